"""`pathwarden certs`: a CA and serving certificate for the webhook, without cert-manager.

Exit codes: 0 written; 2 usage errors or files that are not ours to overwrite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "certs", help="create a CA and the webhook's TLS serving certificate",
        description="Write ca.crt, ca.key, tls.crt and tls.key (a Kubernetes TLS Secret's "
        "names) to DIR. An existing CA in DIR is reused, so the installed caBundle stays "
        "valid when the serving certificate is re-issued with --renew.")
    parser.add_argument("--service", required=True, metavar="NAME",
                        help="the webhook's Service name")
    parser.add_argument("--namespace", required=True, metavar="NS",
                        help="the webhook's namespace")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="directory for ca.crt, ca.key, tls.crt, tls.key")
    parser.add_argument("--days", type=int, default=365,
                        help="validity of the serving certificate (default 365)")
    parser.add_argument("--ca-days", type=int, default=3650,
                        help="validity of a newly created CA (default 3650)")
    parser.add_argument("--extra-dns", nargs="+", action="extend", default=[], metavar="NAME",
                        help="more subject alternative names; IP addresses become IP SANs")
    parser.add_argument("--renew", action="store_true",
                        help="re-issue tls.crt/tls.key with the CA already in DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...webhook.certs import CertError, write_certificates

    try:
        result = write_certificates(
            args.out, args.service, args.namespace, days=args.days, ca_days=args.ca_days,
            extra_names=args.extra_dns, renew=args.renew)
    except CertError as exc:
        print(f"error: certs: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: certs: {exc}", file=sys.stderr)
        return 2
    ca_state = "created" if result.ca_created else "reused"
    print(f"CA {ca_state}: {args.out / 'ca.crt'} (expires {result.ca_not_after:%Y-%m-%d})")
    for path in result.written:
        print(f"wrote {path}")
    sans = ", ".join((*result.dns_names, *result.ip_addresses))
    print(f"serving certificate for {sans}")
    print(f"serving certificate expires {result.cert_not_after:%Y-%m-%d %H:%M} UTC")
    if result.cert_not_after == result.ca_not_after:
        print("warning: certs: the serving certificate was cut short to the CA's expiry",
              file=sys.stderr)
    return 0
