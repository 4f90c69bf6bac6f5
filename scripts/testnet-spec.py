#!/usr/bin/env python3
"""The last step of a testnet's key ceremony: the validators' public keys and boot nodes in, the
network's chain spec out.

    python3 scripts/testnet-spec.py ceremony.json --out DIR [--node-bin PATH]

Each validator makes its keys on its own machine and sends only public ones: its account, its
session keys (BABE sr25519 and GRANDPA ed25519, from `author_rotateKeys` or `atoma-node key
generate`) and its boot node address, whose peer id comes from its network key
(`atoma-node key generate-node-key --file node.key`, then `key inspect-node-key --file node.key`).
The coordinator collects them in `ceremony.json`:

    {
      "name": "Atoma Testnet", "id": "atoma_testnet", "protocolId": "atoma-testnet",
      "validators": [
        {"account": "5...", "babe": "5...", "grandpa": "5...",
         "bootNode": "/dns/validator-1.example.org/tcp/30333/p2p/12D3KooW..."}
      ],
      "council": ["5..."], "technicalCommittee": ["5..."],
      "modelValidators": ["5..."], "modelValidatorQuorum": 2,
      "balances": [["5...", 1000000000000000000]]
    }

and runs this script, which starts from the runtime's `testnet_template` preset (exported by the
node binary), replaces every placeholder account, key and boot node, and writes `DIR/<id>.json`
(readable) and `DIR/<id>-raw.json` (what every node starts from, with `--chain`). The node binary
builds the raw spec, so it checks the addresses, the boot nodes' multiaddresses and the genesis
itself (a model validator that cannot pay its bond fails here, not at launch).

Refused, with a message naming the entry: a well-known development key anywhere (anyone could sign
for it: //Alice to //Ferdie and their //stash, sr25519 and ed25519); a validator without a boot
node, or a boot node without its `/p2p/<peer id>`; the same account, session key or peer id twice;
an empty validator set, council or technical committee; a quorum larger than the model validators.
"""

import argparse
import json
import os
import subprocess
import sys

DEV_NAMES = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"]


def fail(message):
    print(f"testnet-spec: {message}", file=sys.stderr)
    sys.exit(1)


def run(node_bin, *args):
    out = subprocess.run([node_bin, *args], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"atoma-node {' '.join(args[:2])} failed: {out.stderr.strip()[-2000:]}")
    return out.stdout


def development_keys(node_bin):
    """SS58 address -> the development seed it comes from, for every well-known dev key."""
    keys = {}
    for name in DEV_NAMES:
        for path in (f"//{name}", f"//{name}//stash"):
            for scheme in ("sr25519", "ed25519"):
                info = json.loads(run(node_bin, "key", "inspect", "--scheme", scheme,
                                      "--output-type", "json", path))
                keys[info["ss58Address"]] = f"{path} ({scheme})"
    return keys


def addresses(value):
    """Every string in a JSON value (the accounts and keys of a genesis patch among them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from addresses(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from addresses(v)


def check_ceremony(c):
    for field in ("name", "id", "validators", "council", "technicalCommittee", "balances"):
        if field not in c:
            fail(f"ceremony file: '{field}' is missing")
    validators = c["validators"]
    if not validators:
        fail("ceremony file: no validators")
    for field in ("council", "technicalCommittee"):
        if not c[field]:
            fail(f"ceremony file: '{field}' is empty (governance needs members)")
    seen = {}
    for i, v in enumerate(validators):
        for field in ("account", "babe", "grandpa", "bootNode"):
            if not v.get(field):
                fail(f"validator {i}: '{field}' is missing")
        boot = v["bootNode"]
        parts = boot.split("/p2p/")
        if not boot.startswith("/") or len(parts) != 2 or not parts[1]:
            fail(f"validator {i}: boot node {boot!r} must be a multiaddress ending in /p2p/<peer id>")
        for kind, value in (("account", v["account"]), ("babe key", v["babe"]),
                            ("grandpa key", v["grandpa"]), ("peer id", parts[1])):
            if (kind, value) in seen:
                fail(f"validator {i}: {kind} {value} is also validator {seen[(kind, value)]}'s")
            seen[(kind, value)] = i
    members = c.get("modelValidators", [])
    quorum = c.get("modelValidatorQuorum", min(2, len(members)) or 1)
    if members and not 1 <= quorum <= len(members):
        fail(f"modelValidatorQuorum {quorum} must be between 1 and {len(members)}")
    return members, quorum


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ceremony")
    parser.add_argument("--out", required=True)
    parser.add_argument("--node-bin", default=os.environ.get("NODE_BIN", "atoma-node"))
    args = parser.parse_args()

    with open(args.ceremony) as f:
        ceremony = json.load(f)
    model_validators, quorum = check_ceremony(ceremony)

    spec = json.loads(run(args.node_bin, "export-chain-spec", "--chain", "testnet-template"))
    patch = spec["genesis"]["runtimeGenesis"]["patch"]
    dev = development_keys(args.node_bin)

    spec["name"] = ceremony["name"]
    spec["id"] = ceremony["id"]
    spec["protocolId"] = ceremony.get("protocolId", ceremony["id"])
    spec["bootNodes"] = [v["bootNode"] for v in ceremony["validators"]]
    patch["session"]["keys"] = [
        [v["account"], v["account"], {"babe": v["babe"], "grandpa": v["grandpa"]}]
        for v in ceremony["validators"]
    ]
    patch["council"]["members"] = ceremony["council"]
    patch["technicalCommittee"]["members"] = ceremony["technicalCommittee"]
    patch["modelValidators"] = {"quorum": quorum, "validators": model_validators}
    # The template's balances are development accounts, except the pallets' own accounts (the
    # treasury's), which genesis endows with the existential deposit.
    kept = [b for b in patch["balances"]["balances"] if b[0] not in dev]
    patch["balances"]["balances"] = kept + [list(b) for b in ceremony["balances"]]

    # Every placeholder of the template is a development key, so this also finds any left over.
    for value in addresses(patch):
        if value in dev:
            fail(f"{value} is the development key {dev[value]}: anyone can sign with it")

    os.makedirs(args.out, exist_ok=True)
    plain = os.path.join(args.out, f"{ceremony['id']}.json")
    raw = os.path.join(args.out, f"{ceremony['id']}-raw.json")
    with open(plain, "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    with open(raw, "w") as f:
        f.write(run(args.node_bin, "export-chain-spec", "--chain", plain, "--raw"))
    print(f"wrote {plain} and {raw}: {len(ceremony['validators'])} validators, "
          f"{len(spec['bootNodes'])} boot nodes")


if __name__ == "__main__":
    main()
