"""The cluster store and the watch each daemon runs on it (layer 5).

  kv.py         the key-value model underneath, etcd v3's: revisions, transactions
                with compares, changes since a revision; the protocol a backend meets
  sqlite_kv.py  the embedded backend: one SQLite file the hosts of a machine share
  inotify.py    waking a watcher the moment another process commits
  etcd_kv.py    the etcd v3 backend (etcd3gw over etcd's gRPC gateway), with failover
  etcd_stream.py  its watch: one stream, resumed from the last revision handed out
  records.py    global networks' records (the network core's NetworkRecords)
  store.py      Cluster: slices, leases (the endpoint registry too), peers, connections
                (the network core's ClusterStore)
  connect.py    a Cluster from the `cluster-store` setting's URL
  watch.py      the daemon's watch loop: store changes into the network core's plans
  catchup.py    what a host let go of while the store was away, given back on its return

Nothing is imported here, so importing one module does not load the others.
"""
