"""Unit tests for tests/support/scram.py: stored SCRAM credentials and the server side
of the SCRAM-SHA-1 / SCRAM-SHA-256 conversation.

The client side is computed here from RFC 5802 with hashlib/hmac, checked against the
RFC 5802 and RFC 7677 example conversations, and finally pymongo's own SCRAM client
(``pymongo.synchronous.auth._authenticate_scram``) is run against the conversation
through a fake connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from bson import Binary
from pymongo.auth_shared import MongoCredential, _Cache
from pymongo.errors import OperationFailure
from pymongo.synchronous import auth as pymongo_auth

from tests.support.errors import CommandError
from tests.support.scram import ScramServerConversation, make_credentials, saslprep

SHA1_SALT = bytes(range(16))
SHA256_SALT = bytes(range(28))
SALTS = {"SCRAM-SHA-1": SHA1_SALT, "SCRAM-SHA-256": SHA256_SALT}
DIGESTS = {"SCRAM-SHA-1": ("sha1", hashlib.sha1), "SCRAM-SHA-256": ("sha256", hashlib.sha256)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def keys_from_salted(mechanism, salted):
    _, digestmod = DIGESTS[mechanism]
    client_key = hmac.new(salted, b"Client Key", digestmod).digest()
    server_key = hmac.new(salted, b"Server Key", digestmod).digest()
    return client_key, digestmod(client_key).digest(), server_key


def password_input(mechanism, user, password):
    if mechanism == "SCRAM-SHA-1":
        return hashlib.md5(f"{user}:mongo:{password}".encode()).hexdigest().encode()  # noqa: S324
    return password.encode("utf-8")


class Client:
    """RFC 5802 client, written out from the RFC (independently of the module)."""

    def __init__(self, mechanism, user, password, nonce="clientnonce0123456789"):
        self.mechanism = mechanism
        self.user = user
        self.password = password
        self.nonce = nonce
        escaped = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = f"n={escaped},r={nonce}".encode()

    def first(self):
        return b"n,," + self.first_bare

    def final(self, server_first, *, password_bytes=None):
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        assert fields["r"].startswith(self.nonce)
        digest_name, digestmod = DIGESTS[self.mechanism]
        data = password_bytes or password_input(self.mechanism, self.user, self.password)
        salted = hashlib.pbkdf2_hmac(
            digest_name, data, base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key, stored_key, server_key = keys_from_salted(self.mechanism, salted)
        without_proof = b"c=biws,r=" + fields["r"].encode()
        auth_message = b",".join((self.first_bare, server_first, without_proof))
        signature = hmac.new(stored_key, auth_message, digestmod).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.expected_server_signature = hmac.new(server_key, auth_message, digestmod).digest()
        return without_proof + b",p=" + base64.b64encode(proof)


def lookup_for(users):
    return lambda name: users.get(name)


# --------------------------------------------------------------------------
# make_credentials
# --------------------------------------------------------------------------


def test_credentials_document_shape():
    credentials = make_credentials("app", "secret", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
    assert list(credentials) == ["SCRAM-SHA-1", "SCRAM-SHA-256"]
    for mechanism, iterations, salt_length, key_length in (
        ("SCRAM-SHA-1", 10000, 16, 20),
        ("SCRAM-SHA-256", 15000, 28, 32),
    ):
        entry = credentials[mechanism]
        assert list(entry) == ["iterationCount", "salt", "storedKey", "serverKey"]
        assert entry["iterationCount"] == iterations
        assert type(entry["iterationCount"]) is int
        assert len(base64.b64decode(entry["salt"])) == salt_length
        assert len(base64.b64decode(entry["storedKey"])) == key_length
        assert len(base64.b64decode(entry["serverKey"])) == key_length


def test_mechanisms_come_in_mongod_order_whatever_the_request_order():
    credentials = make_credentials("app", "secret", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
    assert list(credentials) == ["SCRAM-SHA-1", "SCRAM-SHA-256"]
    assert list(make_credentials("app", "secret", ["SCRAM-SHA-256"])) == ["SCRAM-SHA-256"]


def test_salts_are_random_unless_given():
    first = make_credentials("app", "secret", ["SCRAM-SHA-1"])
    second = make_credentials("app", "secret", ["SCRAM-SHA-1"])
    assert first["SCRAM-SHA-1"]["salt"] != second["SCRAM-SHA-1"]["salt"]
    fixed = make_credentials("app", "secret", ["SCRAM-SHA-1"], salts=SALTS)
    assert fixed == make_credentials("app", "secret", ["SCRAM-SHA-1"], salts=SALTS)
    assert fixed["SCRAM-SHA-1"]["salt"] == b64(SHA1_SALT)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_keys_follow_rfc5802_from_the_mongodb_password_input(mechanism):
    credentials = make_credentials("app", "secret", [mechanism], salts=SALTS)[mechanism]
    digest_name, _ = DIGESTS[mechanism]
    iterations = 10000 if mechanism == "SCRAM-SHA-1" else 15000
    salted = hashlib.pbkdf2_hmac(
        digest_name, password_input(mechanism, "app", "secret"), SALTS[mechanism], iterations
    )
    _, stored_key, server_key = keys_from_salted(mechanism, salted)
    assert credentials["storedKey"] == b64(stored_key)
    assert credentials["serverKey"] == b64(server_key)


def test_sha1_depends_on_the_user_name_and_sha256_does_not():
    one = make_credentials("u1", "pw", salts=SALTS)
    two = make_credentials("u2", "pw", salts=SALTS)
    assert one["SCRAM-SHA-1"]["storedKey"] != two["SCRAM-SHA-1"]["storedKey"]
    assert one["SCRAM-SHA-256"]["storedKey"] == two["SCRAM-SHA-256"]["storedKey"]


def test_sha256_password_is_saslprepped():
    # U+00A0 NO-BREAK SPACE maps to SPACE, U+00AD SOFT HYPHEN maps to nothing.
    assert make_credentials("u", "a\u00a0b\u00ad", ["SCRAM-SHA-256"], salts=SALTS) == (
        make_credentials("u", "a b", ["SCRAM-SHA-256"], salts=SALTS)
    )


def test_unknown_mechanism_is_refused():
    with pytest.raises(ValueError):
        make_credentials("u", "p", ["MONGODB-CR"])


# --------------------------------------------------------------------------
# saslprep (RFC 4013 section 3 examples)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "prepared"),
    [
        ("I\u00adX", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("p\u00e4ss", "p\u00e4ss"),
        ("pa\u0308ss", "p\u00e4ss"),
        ("\u2000x", " x"),
    ],
)
def test_saslprep_maps_and_normalizes(given, prepared):
    assert saslprep(given) == prepared


@pytest.mark.parametrize("given", ["\u0007", "\u0627\u0031"])
def test_saslprep_refuses_prohibited_and_bad_bidi(given):
    with pytest.raises(ValueError):
        saslprep(given)


# --------------------------------------------------------------------------
# The conversation, step by step
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_full_conversation(mechanism):
    users = {"app": make_credentials("app", "secret", [mechanism], salts=SALTS)}
    conversation = ScramServerConversation(mechanism, lookup_for(users))
    client = Client(mechanism, "app", "secret")

    server_first, done = conversation.step(client.first())
    assert done is False
    assert conversation.username == "app"
    fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
    assert list(fields) == ["r", "s", "i"]
    assert fields["r"].startswith(client.nonce)
    assert len(base64.b64decode(fields["r"][len(client.nonce) :])) == 24
    assert fields["s"] == b64(SALTS[mechanism])
    assert fields["i"] == ("10000" if mechanism == "SCRAM-SHA-1" else "15000")

    server_final, done = conversation.step(client.final(server_first))
    assert done is True
    assert server_final == b"v=" + base64.b64encode(client.expected_server_signature)


def test_without_skip_empty_exchange_an_empty_round_ends_the_conversation():
    users = {"app": make_credentials("app", "secret", salts=SALTS)}
    conversation = ScramServerConversation(
        "SCRAM-SHA-256", lookup_for(users), skip_empty_exchange=False
    )
    client = Client("SCRAM-SHA-256", "app", "secret")
    server_first, _ = conversation.step(client.first())
    server_final, done = conversation.step(client.final(server_first))
    assert server_final.startswith(b"v=")
    assert done is False
    assert conversation.step(b"") == (b"", True)


def test_a_step_after_the_end_fails():
    users = {"app": make_credentials("app", "secret", salts=SALTS)}
    conversation = ScramServerConversation("SCRAM-SHA-1", lookup_for(users))
    client = Client("SCRAM-SHA-1", "app", "secret")
    server_first, _ = conversation.step(client.first())
    conversation.step(client.final(server_first))
    with pytest.raises(CommandError) as caught:
        conversation.step(b"")
    assert caught.value.code == 18


def test_escaped_user_names():
    name = "we=ird,name"
    users = {name: make_credentials(name, "pw", salts=SALTS)}
    conversation = ScramServerConversation("SCRAM-SHA-256", lookup_for(users))
    client = Client("SCRAM-SHA-256", name, "pw")
    assert b"n=we=3Dird=2Cname," in client.first()
    server_first, _ = conversation.step(client.first())
    assert conversation.username == name
    _, done = conversation.step(client.final(server_first))
    assert done is True


def authentication_failed(call):
    with pytest.raises(CommandError) as caught:
        call()
    assert caught.value.code == 18
    assert caught.value.errmsg == "Authentication failed."


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_wrong_password_fails(mechanism):
    users = {"app": make_credentials("app", "secret", salts=SALTS)}
    conversation = ScramServerConversation(mechanism, lookup_for(users))
    client = Client(mechanism, "app", "wrong")
    server_first, _ = conversation.step(client.first())
    authentication_failed(lambda: conversation.step(client.final(server_first)))


def test_unknown_user_fails_at_the_first_step():
    conversation = ScramServerConversation("SCRAM-SHA-256", lookup_for({}))
    authentication_failed(lambda: conversation.step(Client("SCRAM-SHA-256", "x", "y").first()))


def test_user_without_the_mechanism_fails():
    users = {"app": make_credentials("app", "secret", ["SCRAM-SHA-1"], salts=SALTS)}
    conversation = ScramServerConversation("SCRAM-SHA-256", lookup_for(users))
    authentication_failed(lambda: conversation.step(Client("SCRAM-SHA-256", "app", "s").first()))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"y,,n=app,r=abc",
        b"p=tls-unique,,n=app,r=abc",
        b"n,a=admin,n=app,r=abc",
        b"n,,r=abc,n=app",
        b"n,,n=app",
        b"n,,n=a=5Xb,r=abc",
        b"n,,n=app,r=",
        b"\xff\xfe",
    ],
)
def test_malformed_client_first_fails(payload):
    users = {"app": make_credentials("app", "secret", salts=SALTS)}
    conversation = ScramServerConversation("SCRAM-SHA-256", lookup_for(users))
    authentication_failed(lambda: conversation.step(payload))


def test_tampered_client_final_fails():
    users = {"app": make_credentials("app", "secret", salts=SALTS)}
    for tamper in (
        lambda final: final.replace(b"c=biws", b"c=eSws"),
        lambda final: final.replace(b",r=clientnonce", b",r=otherclient"),
        lambda final: final.split(b",p=")[0],
        lambda final: final + b"AAAA",
        lambda final: final.split(b",p=")[0] + b",p=!!!",
    ):
        conversation = ScramServerConversation("SCRAM-SHA-256", lookup_for(users))
        client = Client("SCRAM-SHA-256", "app", "secret")
        server_first, _ = conversation.step(client.first())
        final = tamper(client.final(server_first))
        authentication_failed(
            lambda final=final, conversation=conversation: conversation.step(final)
        )


def test_unknown_mechanism_is_mechanism_unavailable():
    with pytest.raises(CommandError) as caught:
        ScramServerConversation("PLAIN", lookup_for({}))
    assert caught.value.code == 334
    assert caught.value.errmsg == (
        "Received authentication for mechanism PLAIN which is unknown or not enabled"
    )


# --------------------------------------------------------------------------
# RFC example conversations (user "user", password "pencil", 4096 iterations)
# --------------------------------------------------------------------------


def rfc_credentials(mechanism, salt_b64):
    digest_name, _ = DIGESTS[mechanism]
    salted = hashlib.pbkdf2_hmac(digest_name, b"pencil", base64.b64decode(salt_b64), 4096)
    _, stored_key, server_key = keys_from_salted(mechanism, salted)
    return {
        mechanism: {
            "iterationCount": 4096,
            "salt": salt_b64,
            "storedKey": b64(stored_key),
            "serverKey": b64(server_key),
        }
    }


@pytest.mark.parametrize(
    ("mechanism", "client_nonce", "server_nonce", "salt", "proof", "signature"),
    [
        (
            "SCRAM-SHA-1",
            "fyko+d2lbbFgONRv9qkxdawL",
            "3rfcNHYJY1ZVvWVs7j",
            "QSXCR+Q6sek8bf92",
            "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        ),
        (
            "SCRAM-SHA-256",
            "rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        ),
    ],
)
def test_rfc_example_conversations(mechanism, client_nonce, server_nonce, salt, proof, signature):
    users = {"user": rfc_credentials(mechanism, salt)}
    conversation = ScramServerConversation(mechanism, lookup_for(users), server_nonce=server_nonce)
    nonce = client_nonce + server_nonce
    server_first, _ = conversation.step(f"n,,n=user,r={client_nonce}".encode())
    assert server_first == f"r={nonce},s={salt},i=4096".encode()
    server_final, done = conversation.step(f"c=biws,r={nonce},p={proof}".encode())
    assert (server_final, done) == (f"v={signature}".encode(), True)


# --------------------------------------------------------------------------
# pymongo's own SCRAM client against the conversation
# --------------------------------------------------------------------------


class FakeConnection:
    """Routes pymongo's saslStart/saslContinue commands to a ScramServerConversation
    the way the test server does, and records what pymongo sent."""

    auth_ctx = None

    def __init__(self, users, *, honour_skip_empty_exchange=True):
        self.users = users
        self.honour_skip_empty_exchange = honour_skip_empty_exchange
        self.sent = []
        self.conversation = None

    def command(self, dbname, spec, *args, **kwargs):
        self.sent.append((dbname, dict(spec)))
        if "saslStart" in spec:
            skip = bool(spec.get("options", {}).get("skipEmptyExchange"))
            self.conversation = ScramServerConversation(
                spec["mechanism"],
                lookup_for(self.users),
                skip_empty_exchange=skip and self.honour_skip_empty_exchange,
            )
            conversation_id = 1
        else:
            assert spec["conversationId"] == 1
            conversation_id = spec["conversationId"]
        try:
            payload, done = self.conversation.step(bytes(spec["payload"]))
        except CommandError as error:
            raise OperationFailure(error.errmsg, error.code) from None
        return {
            "conversationId": conversation_id,
            "done": done,
            "payload": Binary(payload),
            "ok": 1.0,
        }


def pymongo_login(connection, mechanism, user, password):
    credential = MongoCredential(mechanism, "admin", user, password, None, _Cache())
    pymongo_auth._authenticate_scram(credential, connection, mechanism)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_pymongo_client_authenticates(mechanism):
    users = {"app": make_credentials("app", "s3cret", [mechanism])}
    connection = FakeConnection(users)
    pymongo_login(connection, mechanism, "app", "s3cret")
    commands = [spec for _, spec in connection.sent]
    assert [next(iter(spec)) for spec in commands] == ["saslStart", "saslContinue"]
    assert commands[0]["options"] == {"skipEmptyExchange": True}
    assert connection.conversation.username == "app"


def test_pymongo_client_sends_the_empty_round_when_the_server_asks_for_it():
    users = {"app": make_credentials("app", "s3cret")}
    connection = FakeConnection(users, honour_skip_empty_exchange=False)
    pymongo_login(connection, "SCRAM-SHA-256", "app", "s3cret")
    commands = [spec for _, spec in connection.sent]
    assert [next(iter(spec)) for spec in commands] == ["saslStart", "saslContinue", "saslContinue"]
    assert bytes(commands[2]["payload"]) == b""


def test_pymongo_client_with_a_non_ascii_password():
    users = {"app": make_credentials("app", "p\u00e4ss\u00a0word")}
    pymongo_login(FakeConnection(users), "SCRAM-SHA-256", "app", "pa\u0308ss word")
    pymongo_login(FakeConnection(users), "SCRAM-SHA-1", "app", "p\u00e4ss\u00a0word")


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_pymongo_client_wrong_password(mechanism):
    users = {"app": make_credentials("app", "s3cret")}
    with pytest.raises(OperationFailure) as caught:
        pymongo_login(FakeConnection(users), mechanism, "app", "nope")
    assert caught.value.code == 18
    assert str(caught.value).startswith("Authentication failed.")


def test_pymongo_client_unknown_user():
    with pytest.raises(OperationFailure) as caught:
        pymongo_login(FakeConnection({}), "SCRAM-SHA-256", "ghost", "pw")
    assert caught.value.code == 18
