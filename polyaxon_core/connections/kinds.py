"""Connection kinds and the ``schema`` fields each one takes.

The kind names are Polyaxon's. Kinds the platform acts on (stores, git, registries,
notifiers) have their schema checked field by field; every other kind keeps a free
mapping for the plugin that handles it.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_KINDS: tuple[str, ...] = (
    "host_path", "volume_claim", "gcs", "s3", "wasb", "registry", "git",
    "aws", "gcp", "azure", "mysql", "postgres", "oracle", "vertica", "sqlite", "mssql",
    "redis", "presto", "mongo", "cassandra", "ftp", "grpc", "hdfs", "http", "pig_cli",
    "hive_cli", "hive_metastore", "hive_server2", "jdbc", "jenkins", "samba", "snowflake",
    "ssh", "cloudant", "databricks", "segment", "slack", "teams", "email", "discord",
    "mattermost", "pagerduty", "hipchat", "webhook", "custom",
)

#: Kinds that deliver notifications: their URL is a credential, so it may live in the
#: secret instead of the schema, but one of the two must give it.
NOTIFIER_KINDS = frozenset({"slack", "teams", "discord", "mattermost", "pagerduty", "hipchat", "webhook"})


@dataclass(frozen=True)
class SchemaField:
    """One field of a kind's ``schema``: its value type and whether it must be given.

    ``type`` is ``text``, ``absolute_path``, ``url`` (http or https), ``bool``, ``port``
    (a whole number from 1 to 65535) or ``texts`` (a list of strings).
    """

    type: str
    required: bool = False


_MOUNT = {
    "mountPath": SchemaField("absolute_path", required=True),
    "readOnly": SchemaField("bool"),
}
_BUCKET = {"bucket": SchemaField("text", required=True)}
_NOTIFIER = {"url": SchemaField("url")}

#: kind -> its schema fields; kinds not listed take any mapping.
SCHEMA_FIELDS: dict[str, dict[str, SchemaField]] = {
    "host_path": {"hostPath": SchemaField("absolute_path", required=True), **_MOUNT},
    "volume_claim": {"volumeClaim": SchemaField("text", required=True), **_MOUNT},
    "s3": _BUCKET,
    "gcs": _BUCKET,
    "wasb": _BUCKET,
    # A git connection may leave out `url`: an initializer's `git.url` gives it then.
    "git": {"url": SchemaField("text"), "revision": SchemaField("text"), "flags": SchemaField("texts")},
    "registry": {"url": SchemaField("text", required=True), "insecure": SchemaField("bool")},
    # an SMTP server's address; a login, when it wants one, is the secret's username/password
    "email": {"host": SchemaField("text", required=True), "port": SchemaField("port"),
              "sender": SchemaField("text", required=True),
              "recipients": SchemaField("texts", required=True), "starttls": SchemaField("bool")},
    **{kind: _NOTIFIER for kind in NOTIFIER_KINDS},
}
