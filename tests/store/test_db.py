"""The store under the daemon's threading: a thread per request, each using the store."""

import threading

from fabric.store.db import POOL_SIZE, Store


def test_threads_share_a_few_connections_and_never_lose_a_write(tmp_path):
    store = Store(str(tmp_path / "fabric.db"))
    used = []   # kept alive, so distinct connections have distinct ids
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            used.append(store.conn())
            with store.tx() as c:
                n = c.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
                c.execute("INSERT INTO kv(key, value) VALUES (?, ?)", (f"k{i}", str(n)))
        except BaseException as e:
            errors.append(e)

    for batch in range(20):
        threads = [threading.Thread(target=work, args=(batch * 4 + j,)) for j in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    rows = store.query("SELECT value FROM kv")
    # each insert saw every earlier one: no two transactions overlapped
    assert sorted(int(r["value"]) for r in rows) == list(range(80))
    # 80 threads, at most 4 at once: connections came back to the pool
    assert len({id(c) for c in used}) <= POOL_SIZE
