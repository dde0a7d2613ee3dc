"""`inspect -f` / `--format`: the Go template idioms Docker's documentation uses, printed
as Docker prints them (it runs the template on its typed structs first, so a null list
prints [], a null map map[], a null pointer <nil>; a key that is not there <no value>)."""

import json

import pytest

from fabric.cli.gotemplate import TemplateError, render

CTR = {
    "Id": "3f4e",
    "Name": "/web",
    "Args": ["-c", "echo hi"],
    "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0},
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"k": "v", "x y": "z"}, "Cmd": None,
               "Entrypoint": None, "Volumes": None, "Image": "busybox"},
    "HostConfig": {"Binds": None, "PidsLimit": None, "Memory": 0},
    "Mounts": [{"Destination": "/a"}, {"Destination": "/b"}],
    "NetworkSettings": {"Networks": {
        "labnet": {"IPAddress": "10.10.0.2", "IPAMConfig": None, "Aliases": None},
        "bridge": {"IPAddress": "10.88.0.2", "IPAMConfig": {"IPv4Address": "10.88.0.9"}}}},
}
NET = {"Name": "labnet", "IPAM": {"Driver": "default", "Config": [
    {"Subnet": "10.10.0.0/24", "Gateway": "10.10.0.1"}]}, "Options": {}}


@pytest.mark.parametrize("tmpl, want", [
    # parenthesised pipelines, and a field of their result
    ("{{(index .IPAM.Config 0).Subnet}}", "10.10.0.0/24"),
    ("{{(index .IPAM.Config 0).Gateway}} {{.Name}}", "10.10.0.1 labnet"),
    ("{{len .IPAM.Config}}", "1"),
    ("{{range .IPAM.Config}}{{.Subnet}}{{end}}", "10.10.0.0/24"),
])
def test_network_idioms(tmpl, want):
    assert render(tmpl, NET) == want


@pytest.mark.parametrize("tmpl, want", [
    ('{{(index .NetworkSettings.Networks "labnet").IPAddress}}', "10.10.0.2"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.88.0.2 10.10.0.2 "),
    ("{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}};{{end}}",
     "bridge=10.88.0.2;labnet=10.10.0.2;"),
    ("{{json .Config.Env}}", '["A=1","B=2"]'),
    ('{{json .Config.Labels}}', '{"k":"v","x y":"z"}'),
    ("{{json .HostConfig.Binds}}", "null"),
    ('{{index .Config.Labels "k"}}', "v"),
    ('{{index .Config.Labels "missing"}}', ""),
    ("{{index .Config.Env 1}}", "B=2"),
    ("{{.State.Health.Status}}", "<no value>"),
    ('{{join .Args " "}}', "-c echo hi"),
    ("{{println}}", "\n"),
    ("{{println .Name .State.Pid}}", "/web 42\n"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if not .State.Running}}up{{else if .State.Pid}}pid{{else}}no{{end}}", "pid"),
    ('{{if eq .State.Status "running" "paused"}}live{{end}}', "live"),
    ("{{if and .State.Running (gt .State.Pid 1)}}yes{{end}}", "yes"),
    ("{{len .Mounts}} {{len .Config.Labels}}", "2 2"),
    ("{{range $i, $m := .Mounts}}{{$i}}:{{$m.Destination}} {{end}}", "0:/a 1:/b "),
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{with .State.Health}}{{.Status}}{{else}}none{{end}}", "none"),
    ('{{.Name | printf "%s!"}}', "/web!"),
    ("{{.Config.Env | len}}", "2"),
    ('{{printf "%q %d %v %-5s|" .Name .State.Pid .State.Running "ab"}}',
     '"/web" 42 true ab   |'),
    ("{{upper .Config.Image}} {{title .State.Status}}", "BUSYBOX Running"),
    ("a  {{- .Name -}}  \n b", "a/webb"),
    ("{{/* a comment */}}x", "x"),
    ('{{$n := .Name}}{{$n}}{{$ := .}}', "/web"),
    ("{{.State.Running}} {{.State.ExitCode}}", "true 0"),
    # nulls print as Docker prints its typed zero values
    ("{{.HostConfig.Binds}} {{.Config.Cmd}} {{.Config.Volumes}}", "[] [] map[]"),
    ("{{.NetworkSettings.Networks.labnet.IPAMConfig}} {{.HostConfig.PidsLimit}}",
     "<nil> <nil>"),
    ("{{.NetworkSettings.Networks.labnet.Aliases}}", "[]"),
    ("{{.Config.Labels}}", "map[k:v x y:z]"),
    ("{{.Config.Nothing}}", "<no value>"),
    ("{{.Args}} {{.NetworkSettings.Networks.bridge.IPAMConfig}}",
     "[-c echo hi] map[IPv4Address:10.88.0.9]"),
    ("{{range .Config.Cmd}}x{{else}}empty{{end}}", "empty"),
])
def test_container_idioms(tmpl, want):
    assert render(tmpl, CTR) == want


def test_json_of_everything_round_trips():
    assert json.loads(render("{{json .}}", CTR)) == CTR


@pytest.mark.parametrize("tmpl", ["{{.Name", "{{end}}", "{{if .X}}", "{{nosuchfn .X}}",
                                  "{{(index .Args 0}}", '{{index .Args 5}}'])
def test_errors_are_template_errors(tmpl):
    with pytest.raises(TemplateError):
        render(tmpl, CTR)
