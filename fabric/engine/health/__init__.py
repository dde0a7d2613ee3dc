"""Health checks, as Docker runs them: a container whose config (or image) has a
`Healthcheck` gets a checker in the daemon while it runs, which execs the check every
interval, kills one that outlasts its timeout, and keeps `State.Health` in the
container's record (status, failing streak, the last five results).

    config   the Healthcheck of a create request checked and merged with the image's;
             the command a check runs and its timings, Docker's defaults filled in
    status   what one result does to State.Health (pure: starting, healthy, unhealthy)
    probe    one check: an exec through fabric's exec machinery, output captured and
             cut as Docker cuts it, the process tree killed at the timeout
    checker  a thread per checked container (none for the others), started with the
             container, stopped with it, resumed after a daemon restart
"""
