#!/bin/sh
# MinIO with one user per service: images may read, write and delete objects in the bucket;
# inference may only read them. Runs the server, provisions once it answers (every start: each step
# is idempotent, so a changed password in .env takes effect on restart), then waits on the server.
set -eu
minio server /data &
server=$!
trap 'kill -TERM "$server"' TERM INT

until mc ready local >/dev/null 2>&1; do sleep 1; done
mc alias set capcheck http://127.0.0.1:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing capcheck/capcheck-images
for service in images inference; do
  policy="/etc/capcheck/minio/$service-policy.json"
  mc admin policy create capcheck "capcheck-$service" "$policy"
done
mc admin user add capcheck capcheck-images "$MINIO_IMAGES_SECRET_KEY"
mc admin user add capcheck capcheck-inference "$MINIO_INFERENCE_SECRET_KEY"
# `attach` refuses a policy that is already attached; that is the state we want.
mc admin policy attach capcheck capcheck-images --user capcheck-images 2>/dev/null || true
mc admin policy attach capcheck capcheck-inference --user capcheck-inference 2>/dev/null || true
touch /tmp/capcheck-provisioned # the health check waits for this
echo 'capcheck: MinIO users and policies in place'

wait "$server"
