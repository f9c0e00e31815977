// Healthcheck of the compose "mongos" service (profile "sharded"; run with
// `mongosh --nodb --file`). First start: create the root user through the
// localhost exception of the mongos (the cluster has no user yet), then add
// the shards in SHARDS ("set/host:port,set/host:port") that listShards lacks.
// Healthy once every shard is in the cluster. Credentials come from the
// container's environment, never from a command line.
const host = process.env.HEALTHCHECK_HOST || "127.0.0.1:27017";
const userName = process.env.MONGO_ROOT_USERNAME || "";
const password = process.env.MONGO_ROOT_PASSWORD || "";
const wanted = (process.env.SHARDS || "").split(",").filter((s) => s.length > 0);

function adminAs(withCredentials) {
  const auth = withCredentials
    ? `${encodeURIComponent(userName)}:${encodeURIComponent(password)}@`
    : "";
  return connect(`mongodb://${auth}${host}/admin?authSource=admin`);
}

let admin;
try {
  admin = adminAs(true);
  admin.runCommand({ listShards: 1 });
} catch (error) {
  // No user yet: the localhost exception lets this one command through.
  try {
    adminAs(false).runCommand({ createUser: userName, pwd: password, roles: ["root"] });
    print(`created the root user ${userName}`);
  } catch (createError) {
    print(`waiting for the mongos (${createError.message})`);
  }
  quit(1);
}

const present = admin.runCommand({ listShards: 1 }).shards.map((shard) => shard._id);
let missing = 0;
for (const connection of wanted) {
  const name = connection.split("/")[0];
  if (!present.includes(name)) {
    missing += 1;
    try {
      const reply = admin.runCommand({ addShard: connection });
      print(`added shard ${reply.shardAdded} (${connection})`);
    } catch (addError) {
      print(`addShard ${connection} failed: ${addError.message}`);
    }
  }
}
if (missing > 0) {
  quit(1);
}
print(`healthy: mongos with shards ${present.join(", ")}`);
