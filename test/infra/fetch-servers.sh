#!/usr/bin/env bash
# Fetches the jars of the test servers from Maven Central into a cache folder:
#   $CACHE/kafka-<version>/              Apache Kafka broker (KRaft) plus a log4j2 SLF4J binding
#   $CACHE/mongo-java-server-<version>/  mongo-java-server with its in-memory backend
# CACHE is $FORK_SERVICE_CACHE, or <repo>/.cache when that is unset.
#
# Each folder is filled in a staging folder and renamed into place only after Maven
# succeeded, so a folder that exists is complete. A later run only checks the SHA-256
# manifest of each folder and downloads nothing. Delete a folder to fetch it again.
set -euo pipefail

# Keep in step with test/infra/servers.ts, which builds the same folder names.
KAFKA_VERSION=4.4.0
# Kafka 4 logs through SLF4J to log4j2. Without a binding on the classpath the broker prints
# nothing, and the start-up error shown by servers.ts would be empty. The kafka_2.13 pom
# declares slf4j-api 1.7.36, which cannot load the SLF4J 2 provider log4j-slf4j2-impl, so the pom
# below names slf4j-api 2 directly and Maven takes that version.
LOG4J_VERSION=2.26.1
SLF4J_VERSION=2.0.17
MONGO_JAVA_SERVER_VERSION=1.47.0

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache_dir=${FORK_SERVICE_CACHE:-$repo_root/.cache}

log() {
  printf 'fetch-servers: %s\n' "$*" >&2
}

# Writes a pom whose only purpose is to list the artifacts that copy-dependencies resolves
# with their transitive dependencies.
write_pom() {
  local pom_file=$1
  shift
  {
    cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fork-service</groupId>
  <artifactId>test-server-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
EOF
    local coordinate group artifact version
    for coordinate in "$@"; do
      IFS=: read -r group artifact version <<<"$coordinate"
      printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' \
        "$group" "$artifact" "$version"
    done
    cat <<'EOF'
  </dependencies>
</project>
EOF
  } >"$pom_file"
}

# Checks an existing folder against its manifest. Returns 1 when the folder is missing and
# exits when it exists but does not match, because silently refetching over a changed folder
# would hide whatever changed it.
verify_folder() {
  local target=$1
  [[ -d $target ]] || return 1
  if [[ ! -f $target/SHA256SUMS ]]; then
    log "invalid cache folder $target: SHA256SUMS is missing; delete the folder and run again"
    exit 1
  fi
  if ! (cd "$target" && sha256sum --check --quiet --strict SHA256SUMS); then
    log "invalid cache folder $target: checksums do not match; delete the folder and run again"
    exit 1
  fi
  log "ok $target ($(grep -c . "$target/SHA256SUMS") jars)"
}

# Resolves the given artifacts with Maven and installs their jars as the folder $1. The body
# runs in a subshell so that its EXIT trap removes the staging folder however it ends.
fetch_folder() (
  local target=$1
  shift
  if verify_folder "$target"; then
    return 0
  fi

  mkdir -p "$cache_dir"
  local staging
  staging=$(mktemp -d "$cache_dir/.staging.XXXXXX")
  trap 'rm -rf "$staging"' EXIT

  write_pom "$staging/pom.xml" "$@"
  log "fetching $* into $target"
  if ! mvn --batch-mode --quiet --file "$staging/pom.xml" \
    dependency:copy-dependencies \
    -DoutputDirectory="$staging/jars" -DincludeScope=runtime >"$staging/maven.log" 2>&1; then
    cat "$staging/maven.log" >&2
    log "mvn dependency:copy-dependencies failed for $*"
    exit 1
  fi

  (cd "$staging/jars" && sha256sum -- *.jar >SHA256SUMS)
  # Another run may have finished the same folder meanwhile, and its copy is as good as ours.
  if ! mv -T "$staging/jars" "$target" 2>/dev/null; then
    verify_folder "$target"
    return 0
  fi
  log "ok $target ($(grep -c . "$target/SHA256SUMS") jars)"
)

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  log "java and mvn are required (Debian: apt-get install -y openjdk-17-jdk-headless maven)"
  exit 1
fi

fetch_folder "$cache_dir/kafka-$KAFKA_VERSION" \
  "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" \
  "org.apache.logging.log4j:log4j-slf4j2-impl:$LOG4J_VERSION" \
  "org.apache.logging.log4j:log4j-core:$LOG4J_VERSION" \
  "org.slf4j:slf4j-api:$SLF4J_VERSION"

# The artifact mongo-java-server depends on mongo-java-server-core and
# mongo-java-server-memory-backend, so naming it brings the MemoryBackend class too.
fetch_folder "$cache_dir/mongo-java-server-$MONGO_JAVA_SERVER_VERSION" \
  "de.bwaldvogel:mongo-java-server:$MONGO_JAVA_SERVER_VERSION" \
  "org.slf4j:slf4j-simple:$SLF4J_VERSION"
