"""The fleet's certificate authority: one directory holding the CA, issued certificates and the
revocation list (CRL) the broker checks.

Layout of the directory (`ca init` creates it):
    ca.key, ca.crt            the CA (EC P-256)
    crl.pem                   revoked serials, signed by the CA (the broker's `crlfile`)
    issued.json               {name: {"serial": int, "revoked": bool, "kind": "device"|"server"}}
    certs/NAME.crt, NAME.key  one pair per issued name (devices, the broker, the operator)

A device's id is its certificate's common name (CN).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import BuildToolsError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KINDS = ("device", "server", "operator")
CRL_DAYS = 30


class PkiError(BuildToolsError):
    """The fleet CA directory is missing, incomplete, or asked for something it cannot do."""


@dataclass(frozen=True)
class Issued:
    name: str
    cert: Path
    key: Path
    serial: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise PkiError(
            f"name {name!r}: use 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit"
        )
    return name


class CertificateAuthority:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    def cert_path(self, name: str) -> Path:
        return self.dir / "certs" / f"{name}.crt"

    def key_path(self, name: str) -> Path:
        return self.dir / "certs" / f"{name}.key"

    # -- creation -----------------------------------------------------------------------------

    def init(self, common_name: str = "build_tools fleet CA", days: int = 3650) -> None:
        if self.ca_cert_path.exists():
            raise PkiError(f"{self.dir}: a CA exists already", hint="use another --pki directory")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_private(self.dir / "ca.key", _key_pem(key))
        self.ca_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._save_index({})
        self.write_crl()

    # -- loading ------------------------------------------------------------------------------

    def _load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not self.ca_cert_path.is_file():
            raise PkiError(
                f"{self.dir}: no CA here (ca.crt missing)", hint="run: fleet ca init --pki DIR"
            )
        cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.dir / 'ca.key'}: not an EC private key")
        return cert, key

    def _index(self) -> dict[str, dict[str, object]]:
        path = self.dir / "issued.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save_index(self, index: dict[str, dict[str, object]]) -> None:
        tmp = self.dir / "issued.json.tmp"
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.dir / "issued.json")

    def issued(self) -> dict[str, dict[str, object]]:
        return self._index()

    # -- issuing ------------------------------------------------------------------------------

    def issue(
        self,
        name: str,
        kind: str = "device",
        days: int = 825,
        hosts: tuple[str, ...] = (),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A key pair and certificate for `name` (CN). Servers get `hosts` as subjectAltName
        (DNS names or IP addresses). not_before/not_after override the validity (tests)."""
        check_name(name)
        if kind not in KINDS:
            raise PkiError(f"certificate kind {kind!r} is not one of {', '.join(KINDS)}")
        ca_cert, ca_key = self._load()
        index = self._index()
        if name in index and not index[name].get("revoked"):
            raise PkiError(
                f"a certificate for {name} exists already (serial {index[name]['serial']})",
                hint=f"revoke it first: fleet cert revoke {name}",
            )
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        start = not_before or now - dt.timedelta(minutes=5)
        end = not_after or now + dt.timedelta(days=days)
        serial = x509.random_serial_number()
        usage = (
            ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_private(self.key_path(name), _key_pem(key))
        self.cert_path(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        index[name] = {"serial": serial, "revoked": False, "kind": kind}
        self._save_index(index)
        return Issued(name, self.cert_path(name), self.key_path(name), serial)

    def revoke(self, name: str) -> int:
        index = self._index()
        entry = index.get(name)
        if entry is None:
            raise PkiError(f"no certificate issued for {name}")
        entry["revoked"] = True
        entry["revoked_at"] = _now().isoformat()
        self._save_index(index)
        self.write_crl()
        return int(str(entry["serial"]))

    def write_crl(self, days: int = CRL_DAYS) -> None:
        """Re-signs the CRL with every revoked serial (the broker re-reads it on restart)."""
        ca_cert, ca_key = self._load()
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=days))
        )
        for entry in self._index().values():
            if entry.get("revoked"):
                revoked = (
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(str(entry["serial"])))
                    .revocation_date(now - dt.timedelta(minutes=1))
                    .build()
                )
                builder = builder.add_revoked_certificate(revoked)
        crl = builder.sign(ca_key, hashes.SHA256())
        self.crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
