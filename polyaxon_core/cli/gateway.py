from __future__ import annotations

from typing import Any

import click

from polyaxon_core.cli.errors import CliError


@click.command("gateway")
@click.option("--api", default="127.0.0.1:8000", show_default=True, metavar="HOST:PORT",
              help="Where the server (`polyaxon server`, gunicorn) listens.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where nginx listens.")
@click.option("--cache-dir", default="/var/cache/nginx/polyaxon", show_default=True,
              metavar="PATH", help="Where nginx keeps the verdicts on who may reach which service.")
@click.option("--resolver", metavar="ADDRESS",
              help="The DNS server for the services' host names (in Kubernetes, the cluster's "
                   "DNS, e.g. 10.96.0.10); not needed on the local scheduler.")
@click.option("--max-upload-bytes", default=1024 ** 3, show_default=True,
              type=click.IntRange(min=1), help="The largest request body nginx lets through.")
@click.option("--standalone", "folder", metavar="FOLDER",
              help="Print a whole nginx.conf keeping everything under FOLDER (its verdicts "
                   "too, instead of --cache-dir), for `nginx -p FOLDER -c FOLDER/nginx.conf`.")
def gateway_command(api: str, listen: str, cache_dir: str, resolver: str | None,
                    max_upload_bytes: int, folder: str | None) -> None:
    """Print an nginx configuration that serves the server and its services.

    nginx passes the services' requests (notebooks, TensorBoards) on to the services
    themselves once the server has said who may reach them, and everything else to the
    server. Include the output in nginx's `http` block:

    \b
    polyaxon gateway --api 127.0.0.1:8000 --listen 0.0.0.0:80 > /etc/nginx/conf.d/polyaxon.conf
    polyaxon gateway --standalone ~/gateway > ~/gateway/nginx.conf
    """
    from polyaxon_core.gateway import GatewayConfigError, nginx_config, standalone_nginx_config

    options: dict[str, Any] = {"api": api, "listen": listen, "resolver": resolver,
                               "max_body_bytes": max_upload_bytes}
    try:
        if folder is not None:
            click.echo(standalone_nginx_config(folder, **options), nl=False)
        else:
            click.echo(nginx_config(cache_dir=cache_dir, **options), nl=False)
    except GatewayConfigError as exc:
        raise CliError(str(exc)) from None
