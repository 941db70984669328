"""Django's Redis cache with one client object per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache
call, and building one fills its table of ~170 response callbacks: 0.3 ms of CPU each,
twice an API request (the throttle's read and write; docs/profiles/dialing.md). A
``redis.Redis`` is safe to share between threads (each command takes a connection from
the pool), so the client keeps one per pool, as it keeps the pools.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as _RedisCache
from django.core.cache.backends.redis import RedisCacheClient as _RedisCacheClient


class RedisCacheClient(_RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Private in django-stubs, plain attributes of Django's client.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            make = self._client  # type: ignore[attr-defined]
            client = self._clients[id(pool)] = make(connection_pool=pool)
        return client


class RedisCache(_RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._scripts: dict[tuple[int, str], Any] = {}

    def run_script(self, source: str, *, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script on the write server: one round trip (``EVALSHA``, and
        ``EVAL`` once when the server does not know the script yet). ``keys`` are cache
        keys, prefixed and versioned as the cache's own."""
        client = self._cache.get_client(write=True)  # type: ignore[attr-defined]
        script = self._scripts.get((id(client), source))
        if script is None:
            script = self._scripts[(id(client), source)] = client.register_script(source)
        return script(keys=[self.make_and_validate_key(k) for k in keys], args=args)
