/* global db, print -- mongosh provides them */
// Run by the mongo image once, as the root user, when it initialises an empty data volume
// (/docker-entrypoint-initdb.d). One database and one user per service, each user able to read and
// write its own database only: a leaked inference credential cannot read password hashes.
// The passwords come from .env through the mongo container's environment; no service gets root's.
const services = {
  users: 'MONGO_USERS_PASSWORD',
  images: 'MONGO_IMAGES_PASSWORD',
  inference: 'MONGO_INFERENCE_PASSWORD',
};
for (const [service, variable] of Object.entries(services)) {
  const pwd = process.env[variable];
  if (!pwd) throw new Error(`${variable} is not set: run node deploy/generate-secrets.mjs`);
  const database = `capcheck_${service}`;
  db.getSiblingDB(database).createUser({ user: service, pwd, roles: [{ role: 'readWrite', db: database }] });
  print(`created user ${service} with readWrite on ${database}`);
}
