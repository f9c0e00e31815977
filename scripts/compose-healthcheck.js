// Healthcheck of the compose "mongo" service (run with `mongosh --nodb --file`).
// First start: initiate the single-node replica set. Afterwards: healthy only
// when this member is primary. Credentials come from the container's
// environment, so no password appears on a command line.
const user = encodeURIComponent(process.env.MONGO_INITDB_ROOT_USERNAME || "");
const password = encodeURIComponent(process.env.MONGO_INITDB_ROOT_PASSWORD || "");
const host = process.env.HEALTHCHECK_HOST || "127.0.0.1:27017";
const member = process.env.RS_MEMBER_HOST || "localhost:27017";
const auth = user ? `${user}:${password}@` : "";
const admin = connect(`mongodb://${auth}${host}/admin?directConnection=true&authSource=admin`);

let status;
try {
  status = admin.runCommand({ replSetGetStatus: 1 });
} catch (error) {
  status = { ok: 0, code: error.code, errmsg: error.message };
}
if (status.ok !== 1 && status.code === 94) {  // NotYetInitialized
  const reply = admin.runCommand({ replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: member }] } });
  print(`replSetInitiate: ${JSON.stringify(reply)}`);
  quit(1);  // not healthy yet: the next run sees the election
}
const hello = admin.runCommand({ hello: 1 });
if (!hello.isWritablePrimary) {
  print("waiting for a primary");
  quit(1);
}
print("healthy: primary " + hello.me);
