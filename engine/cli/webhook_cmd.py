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
from ..settings import Settings, WebhookSettings
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
    from ...webhook.config_reload import ConfigFile
    from ...webhook.governance import GovernanceHolder, governance_loader, utc_now
    from ...webhook.server import WebhookServer, store_sink_factory

    try:
        settings = settings_from(args)
        webhook = _overridden(settings, args)
        config = None
        if args.config is not None:
            config = ConfigFile(
                args.config, lambda: _reread(args), dataclasses.replace(
                    settings, webhook=webhook),
                policy_paths=lambda s: _policy_paths(s, args),
                governance_paths=lambda s: _governance_paths(s, args),
                governance_loader=lambda s: governance_loader(
                    s, store_url=s.store.url, clock=utc_now))

        def loader() -> PolicySet:
            # The settings in force: a reloaded configuration may name other policies.
            return admission_policy_set(config.settings if config else settings, args)

        governance = GovernanceHolder(governance_loader(
            settings, store_url=settings.store.url, clock=utc_now))
        server = WebhookServer(
            webhook, loader, _policy_paths(settings, args),
            sink_factory=None if args.no_decision_log else store_sink_factory(
                settings.store.url),
            governance=governance,
            governance_paths=_governance_paths(settings, args),
            config=config,
        )
    except PolicyLoadError as exc:
        report_problems(exc.problems)
        print(f"{len(exc.problems)} policy problem(s); the webhook did not start",
              file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inventory = webhook.inventory
    held_back = len(server.holder.current.held_back)
    print(f"pathwarden webhook: https://{webhook.host}:{webhook.port}/validate, "
          f"{len(server.holder.current.policy_set)} policies, failure mode "
          f"{webhook.failure_mode}", file=sys.stderr)
    if held_back:
        print(f"referential policies held back until an inventory is listed: {held_back}; " + (
            f"syncing cluster {inventory.label} every {inventory.resync_seconds:g}s"
            if inventory is not None else
            "not configured (webhook.inventory), so they run in scan and eval only"),
            file=sys.stderr)
    server.run()
    return 0


def admission_policy_set(settings: Settings, args: argparse.Namespace) -> PolicySet:
    """Every configured policy, referential ones included (`inventory: true`, and
    Gatekeeper constraints that read `data.inventory` or match by `namespaceSelector`).

    The webhook's PolicyHolder serves those only while it holds an inventory of the
    cluster (`webhook.inventory`, synced by webhook/inventory.py): against an empty one
    they would judge every workload wrongly. Without that section they stay held back at
    admission and run in `pathwarden scan`/`eval` only."""
    return configured_policy_set(settings, extra_dirs=args.policies,
                                 no_builtin=args.no_builtin, select=args.select)


def _reread(args: argparse.Namespace) -> Settings:
    """The configuration file again, with the command line's overrides applied again, so
    a reload never moves the webhook off the address or certificate it was started with."""
    settings = settings_from(args)
    return dataclasses.replace(settings, webhook=_overridden(settings, args))


def _policy_paths(settings: Settings, args: argparse.Namespace) -> list[Path]:
    return configured_policy_dirs(settings, extra_dirs=args.policies,
                                  no_builtin=args.no_builtin)


def _governance_paths(settings: Settings, args: argparse.Namespace) -> list[Path]:
    return [*governance_dirs(settings, args.policies), *settings.scan.catalog]


def _overridden(settings: Settings, args: argparse.Namespace) -> WebhookSettings:
    changes = {k: v for k, v in (("host", args.host), ("port", args.port),
                                 ("cert_file", args.cert), ("key_file", args.key))
               if v is not None}
    return dataclasses.replace(settings.webhook, **changes)
