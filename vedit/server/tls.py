"""A self-signed certificate for ``vedit serve --allow-remote`` (``vedit serve
--make-cert``): made with the ``cryptography`` package when installed, else with
the ``openssl`` command. Panels must be told to trust it (or given a real one)."""
from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess

from vedit.errors import InvalidInputError

__all__ = ["make_cert"]


def _names(hosts: list[str]) -> list[str]:
    return list(dict.fromkeys(["localhost", "127.0.0.1", *[h for h in hosts if h and h not in ("0.0.0.0", "::")]]))


def make_cert(folder: str, hosts: list[str] | None = None, days: int = 825) -> tuple[str, str]:
    """Write ``cert.pem`` and ``key.pem`` (0600) into ``folder`` for ``hosts``
    (names or addresses, loopback always included); returns their paths."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    names = _names(hosts or [])
    try:
        _with_cryptography(cert, key, names, days)
    except ImportError:
        _with_openssl(cert, key, names, days)
    os.chmod(key, 0o600)
    return cert, key


def _with_cryptography(cert: str, key: str, names: list[str], days: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pk = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vedit serve")])
    now = datetime.datetime.now(datetime.UTC)
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(pk.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.SubjectAlternativeName(alt), critical=False)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         # macOS (10.15+) accepts a TLS server certificate only with this usage
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .sign(pk, hashes.SHA256()))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert, "wb") as fh:
        fh.write(c.public_bytes(serialization.Encoding.PEM))


def _with_openssl(cert: str, key: str, names: list[str], days: int) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise InvalidInputError("--make-cert needs the cryptography package (pip install cryptography) or the "
                                "openssl command")
    san = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in names)
    r = subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", str(days), "-subj", "/CN=vedit serve",
                        "-addext", f"subjectAltName={san}", "-addext", "extendedKeyUsage=serverAuth"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise InvalidInputError(f"openssl could not make a certificate: {r.stderr.strip().splitlines()[-1:]}")


def _is_ip(n: str) -> bool:
    try:
        ipaddress.ip_address(n)
    except ValueError:
        return False
    return True
