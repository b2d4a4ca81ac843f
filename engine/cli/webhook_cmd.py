"""`pathwarden webhook`: the validating admission webhook over HTTPS."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from ..errors import ConfigError, PolicyLoadError
from ..governance.configured import governance_dirs
from ..loading.configured import configured_policy_dirs, configured_policy_set
from ..policyset import PolicySet
from ..settings import Settings
from .common import add_policy_options, report_problems, settings_from, setup_logging


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("webhook", help="serve the admission webhook (HTTPS only)")
    add_policy_options(parser)
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default 8443)")
    parser.add_argument("--cert", type=Path, help="serving certificate (PEM)")
    parser.add_argument("--key", type=Path, help="serving key (PEM)")
    parser.add_argument("--no-decision-log", action="store_true",
                        help="do not write decisions to the store")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(logging.INFO, timestamps=True)
    from ...webhook.governance import GovernanceHolder, governance_loader, utc_now
    from ...webhook.server import WebhookServer, store_sink_factory

    try:
        settings = settings_from(args)
        webhook = _overridden(settings, args)

        def loader() -> PolicySet:
            return admission_policy_set(settings, args)

        governance = GovernanceHolder(governance_loader(
            settings, store_url=settings.store.url, clock=utc_now))
        server = WebhookServer(
            webhook, loader,
            configured_policy_dirs(settings, extra_dirs=args.policies,
                                   no_builtin=args.no_builtin),
            sink_factory=None if args.no_decision_log else store_sink_factory(
                settings.store.url),
            governance=governance,
            governance_paths=[*governance_dirs(settings, args.policies),
                              *settings.scan.catalog],
        )
    except PolicyLoadError as exc:
        report_problems(exc.problems)
        print(f"{len(exc.problems)} policy problem(s); the webhook did not start",
              file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"pathwarden webhook: https://{webhook.host}:{webhook.port}/validate, "
          f"{len(server.holder.current.policy_set)} policies, failure mode "
          f"{webhook.failure_mode}", file=sys.stderr)
    server.run()
    return 0


def admission_policy_set(settings: Settings, args: argparse.Namespace) -> PolicySet:
    """Referential policies need the cluster's inventory, which the webhook does not sync
    yet; run against an empty one they would judge every workload wrongly, so they stay
    in audit (`pathwarden scan`/`eval`) for now. That includes Gatekeeper constraints whose
    template reads `data.inventory` or whose match has a `namespaceSelector` (judged on the
    Namespace objects of the inventory)."""
    policy_set = configured_policy_set(settings, extra_dirs=args.policies,
                                       no_builtin=args.no_builtin, select=args.select)
    return policy_set.only(frozenset(p.id for p in policy_set.policies if not p.inventory))


def _overridden(settings: Settings, args: argparse.Namespace):
    changes = {k: v for k, v in (("host", args.host), ("port", args.port),
                                 ("cert_file", args.cert), ("key_file", args.key))
               if v is not None}
    return dataclasses.replace(settings.webhook, **changes)
