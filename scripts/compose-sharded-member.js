// Healthcheck of the config server and shard services of the compose "sharded"
// profile (run with `mongosh --nodb --file`). First start: initiate this
// single-member replica set (RS_NAME, RS_MEMBER_HOST, RS_CONFIGSVR=1 for the
// config server). Afterwards: healthy once this member is primary.
// It runs inside the container and connects over localhost, where a
// keyfile-secured mongod without users allows replSetInitiate (the localhost
// exception); hello needs no authentication. No password is involved.
const host = process.env.HEALTHCHECK_HOST || "127.0.0.1:27018";
const setName = process.env.RS_NAME;
const member = process.env.RS_MEMBER_HOST;
const admin = connect(`mongodb://${host}/admin?directConnection=true`);

const hello = admin.runCommand({ hello: 1 });
if (hello.isreplicaset && !hello.setName) {
  const config = { _id: setName, members: [{ _id: 0, host: member }] };
  if (process.env.RS_CONFIGSVR === "1") {
    config.configsvr = true;
  }
  try {
    admin.runCommand({ replSetInitiate: config });
    print(`initiated replica set ${setName} with ${member}`);
  } catch (error) {
    print(`replSetInitiate ${setName} failed: ${error.message}`);
  }
  quit(1);  // not healthy yet: the next run sees the election
}
if (!hello.isWritablePrimary) {
  print(`waiting for ${setName} to elect a primary`);
  quit(1);
}
print(`healthy: ${setName} primary ${hello.me}`);
