#!/usr/bin/python
# Copyright: mongo-ops-toolkit contributors
# Apache License 2.0 (see the repository's LICENSE)
"""Ansible module: make a replica set's member settings match, authenticated.

Why this exists next to community.mongodb.mongodb_replicaset (1.7.x), which the
role still uses to initiate the set and to add or remove members:

* its comparison of member settings looks up ``secondardDelaySecs`` (sic), so a
  change of ``secondaryDelaySecs`` alone is never seen and never applied;
* its initiation never authenticates, so it cannot initiate a set once the
  localhost exception is closed (users exist, e.g. a restored data directory).

This module logs in, reads replSetGetConfig, works out the differences in
priority, votes, hidden, secondaryDelaySecs, arbiterOnly and tags for the
members that exist, and runs one replSetReconfig. Check mode computes the same
plan and stops before running it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mongodb_replica_set_members
short_description: Make replica-set member settings match (authenticated), or initiate the set.
description:
  - Compares priority, votes, hidden, secondaryDelaySecs, arbiterOnly and tags of the
    members in the running configuration with I(members) and runs one replSetReconfig
    when they differ.
  - Adding and removing members is left to community.mongodb.mongodb_replicaset
    (reconfigure=true); when the host lists still differ this module fails and says so.
  - With I(initiate=true), initiates a set that is not initiated yet, authenticated.
options:
  login_host: {type: str, default: localhost, description: Member to connect to.}
  login_port: {type: int, default: 27017, description: Its port.}
  login_user: {type: str, required: true, description: Administrator user.}
  login_password: {type: str, required: true, no_log: true, description: Its password.}
  login_database: {type: str, default: admin, description: Authentication database.}
  tls: {type: bool, default: false, description: Connect with TLS.}
  tls_ca_file: {type: path, description: CA file for TLS.}
  tls_certificate_key_file: {type: path, description: Client certificate and key for TLS.}
  tls_allow_invalid_hostnames:
    {type: bool, default: false, description: Accept a certificate for another name.}
  replica_set: {type: str, required: true, description: Replica set name.}
  members:
    type: list
    elements: dict
    required: true
    description:
      - The members in order, each with C(host) and the settings to enforce
        (C(priority), C(votes), C(hidden), C(secondaryDelaySecs), C(arbiterOnly), C(tags)).
  initiate: {type: bool, default: false, description: Initiate the set if it is not initiated.}
  timeout: {type: int, default: 30, description: Seconds to wait for the server or a primary.}
"""

RETURN = r"""
differences:
  description: One line per setting that differs (or the initiation), empty when in sync.
  type: list
  elements: str
  returned: always
config_version:
  description: The configuration version after the run.
  type: int
  returned: when the set is initiated
"""

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure, PyMongoError

    PYMONGO_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported to the user
    MongoClient = None
    PyMongoError = OperationFailure = Exception
    PYMONGO_IMPORT_ERROR = traceback.format_exc()

# Settings this module enforces, with MongoDB's defaults when a member omits them.
SETTINGS = ("priority", "votes", "hidden", "secondaryDelaySecs", "arbiterOnly", "tags")


def normalise(member):
    """Given a member document (server's or wanted), return its settings with defaults filled in."""
    arbiter = bool(member.get("arbiterOnly", False))
    delay = member.get("secondaryDelaySecs", member.get("slaveDelay", 0))
    return {
        "priority": float(member.get("priority", 0 if arbiter else 1)),
        "votes": int(member.get("votes", 1)),
        "hidden": bool(member.get("hidden", False)),
        "secondaryDelaySecs": int(delay),
        "arbiterOnly": arbiter,
        "tags": dict(member.get("tags", {})),
    }


def plan_members(current_members, wanted_members):
    """Given the server's and the wanted member documents, return (members, differences, errors).

    members is the new members array (the server's documents with the wanted
    settings), differences one line per changed setting, errors what a reconfig
    cannot do.
    """
    by_host = {member["host"]: member for member in current_members}
    wanted_hosts = [member["host"] for member in wanted_members]
    errors = []
    missing = [host for host in wanted_hosts if host not in by_host]
    extra = [host for host in by_host if host not in wanted_hosts]
    if missing or extra:
        to_add = ", ".join(missing) or "none"
        to_remove = ", ".join(extra) or "none"
        errors.append(
            f"the member lists differ (to add: {to_add}; to remove: {to_remove}): add or remove "
            "members with community.mongodb.mongodb_replicaset reconfigure=true first"
        )
        return list(current_members), [], errors
    new_members = []
    differences = []
    votes_changed = []
    for current in current_members:
        wanted = next(member for member in wanted_members if member["host"] == current["host"])
        have = normalise(current)
        want = normalise(dict(have, **{key: wanted[key] for key in SETTINGS if key in wanted}))
        document = copy.deepcopy(current)
        for key in SETTINGS:
            if have[key] == want[key]:
                continue
            if key == "arbiterOnly":
                errors.append(
                    f"{current['host']}: arbiterOnly cannot change in a reconfig; "
                    "remove the member and add it back"
                )
                continue
            differences.append(f"{current['host']}: {key} {have[key]!r} -> {want[key]!r}")
            if key == "votes":
                votes_changed.append(current["host"])
            document[key] = want[key]
            if key == "secondaryDelaySecs":
                document.pop("slaveDelay", None)
        new_members.append(document)
    if len(votes_changed) > 1:
        errors.append(
            f"votes change on {', '.join(votes_changed)}: MongoDB allows one voting member to "
            "change per reconfig; change them one run at a time"
        )
    return new_members, differences, errors


def initiation_config(replica_set, wanted_members):
    """Given the set name and wanted members, return the replSetInitiate document."""
    members = []
    for index, wanted in enumerate(wanted_members):
        member = {"_id": index, "host": wanted["host"]}
        member.update({key: wanted[key] for key in SETTINGS if key in wanted})
        members.append(member)
    return {"_id": replica_set, "members": members}


def connection_options(params, direct):
    options = {
        "username": params["login_user"],
        "password": params["login_password"],
        "authSource": params["login_database"],
        "serverSelectionTimeoutMS": params["timeout"] * 1000,
    }
    if direct:
        options["directConnection"] = True
    else:
        options["replicaSet"] = params["replica_set"]
    if params["tls"]:
        options["tls"] = True
        if params["tls_ca_file"]:
            options["tlsCAFile"] = params["tls_ca_file"]
        if params["tls_certificate_key_file"]:
            options["tlsCertificateKeyFile"] = params["tls_certificate_key_file"]
        if params["tls_allow_invalid_hostnames"]:
            options["tlsAllowInvalidHostnames"] = True
    return options


def main():
    module = AnsibleModule(
        argument_spec=dict(
            login_host=dict(type="str", default="localhost"),
            login_port=dict(type="int", default=27017),
            login_user=dict(type="str", required=True),
            login_password=dict(type="str", required=True, no_log=True),
            login_database=dict(type="str", default="admin"),
            tls=dict(type="bool", default=False),
            tls_ca_file=dict(type="path"),
            tls_certificate_key_file=dict(type="path"),
            tls_allow_invalid_hostnames=dict(type="bool", default=False),
            replica_set=dict(type="str", required=True),
            members=dict(type="list", elements="dict", required=True),
            initiate=dict(type="bool", default=False),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    if MongoClient is None:
        module.fail_json(msg=missing_required_lib("pymongo"), exception=PYMONGO_IMPORT_ERROR)
    params = module.params
    for member in params["members"]:
        if not member.get("host"):
            module.fail_json(msg="every member needs a host (host:port)")

    result = {"changed": False, "differences": []}
    address = f"{params['login_host']}:{params['login_port']}"
    replica_set = params["replica_set"]
    direct = MongoClient(
        params["login_host"], params["login_port"], **connection_options(params, direct=True)
    )
    try:
        hello = direct.admin.command("hello")
        if "setName" not in hello:
            if not hello.get("isreplicaset"):
                module.fail_json(msg=f"{address} was not started with replication.replSetName")
            if not params["initiate"]:
                module.fail_json(msg=f"replica set {replica_set} is not initiated")
            config = initiation_config(replica_set, params["members"])
            hosts = ", ".join(member["host"] for member in config["members"])
            result["differences"] = [f"initiate {replica_set} with {hosts}"]
            result["changed"] = True
            if not module.check_mode:
                direct.admin.command("replSetInitiate", config)
            module.exit_json(**result)
        if hello["setName"] != replica_set:
            module.fail_json(
                msg=f"{address} belongs to replica set {hello['setName']}, not {replica_set}"
            )
        config = direct.admin.command("replSetGetConfig")["config"]
    except OperationFailure as error:
        if error.code == 18:  # AuthenticationFailed
            module.fail_json(
                msg=f"cannot log in to {address} as {params['login_user']}: {error}", code=18
            )
        module.fail_json(msg=f"cannot read the replica set configuration: {error}", code=error.code)
    except PyMongoError as error:
        module.fail_json(msg=f"cannot reach {address}: {error}")
    finally:
        direct.close()

    members, differences, errors = plan_members(config["members"], params["members"])
    result["config_version"] = config.get("version")
    if errors:
        module.fail_json(msg="; ".join(errors), differences=differences)
    result["differences"] = differences
    if not differences:
        module.exit_json(**result)
    result["changed"] = True
    if module.check_mode:
        module.exit_json(**result)

    new_config = copy.deepcopy(config)
    new_config["members"] = members
    new_config["version"] = int(config.get("version", 1)) + 1
    # replSetReconfig runs on the primary: let the driver find it.
    client = MongoClient(
        params["login_host"], params["login_port"], **connection_options(params, direct=False)
    )
    try:
        client.admin.command("replSetReconfig", new_config)
        result["config_version"] = new_config["version"]
    except PyMongoError as error:
        module.fail_json(msg=f"replSetReconfig failed: {error}", differences=differences)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
