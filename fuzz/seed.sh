#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds from the conformance data: the SigV4 test suites and
# Lattice cases under tests/data/sigv4, the `check` requests, the policy corpora, the worlds
# and the built-in example world. Idempotent: each seed is a file named after where it came
# from, rewritten on every run; inputs a fuzzer added to the corpus are left alone.
#
# Usage: fuzz/seed.sh [WRITE_SEEDS]
#   WRITE_SEEDS: a built `write_seeds` binary (the `CheckRequest`, policy and JSON-world
#   seeds); without it, it is built with plain `cargo build`.
set -euo pipefail

fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz")"
corpus="$fuzz/corpus"
data="$root/tests/data"

# put TARGET NAME: stdin becomes corpus/TARGET/NAME.
put() {
    mkdir -p "$corpus/$1"
    cat >"$corpus/$1/$2"
}

# A name for a seed from a path under the repository: `tests/data/a/b.http` → `a_b.http`.
seed_name() {
    local rel="${1#"$root"/}"
    rel="${rel#tests/data/}"
    printf '%s' "${rel//\//_}"
}

# A name for a seed from its content.
hash_name() {
    sha256sum | cut -c1-16
}

# Raw HTTP requests: the request format of `check` and of the AWS suites.
mapfile -t requests < <(
    find "$data/sigv4" "$data/check" -type f \
        \( -name '*.http' -o -name '*.req' -o -name 'request.txt' -o -name '*-signed-request.txt' \) |
        sort
)
for f in "${requests[@]}"; do
    name="$(seed_name "$f")"
    put raw_request "$name" <"$f"
    # The Authorization header values.
    while IFS= read -r value; do
        printf '%s' "$value" | put auth_header "$(printf '%s' "$value" | hash_name)"
    done < <(tr -d '\r' <"$f" | sed -n 's/^[Aa]uthorization:[[:space:]]*//p')
    # The query string of the request line.
    query="$(head -n 1 "$f" | tr -d '\r' | sed -n 's/^[^ ]* [^?]*?\([^ ]*\) HTTP.*$/\1/p')"
    if [[ -n "$query" ]]; then
        printf '%s' "$query" | put presigned_query "$(printf '%s' "$query" | hash_name)"
    fi
done

# Worlds (YAML); their JSON renderings come from write_seeds.
worlds=("$root/src/lattice/example_world.yaml" "$data/decisions/table_world.yaml")
mapfile -t -O "${#worlds[@]}" worlds < <(find "$data/worlds" -type f \( -name '*.yaml' -o -name '*.json' \) | sort)
for f in "${worlds[@]}"; do
    put world "$(seed_name "$f")" <"$f"
done

# Policies kept as files.
for f in "$data"/policy/bench/*.json; do
    put policy_json "$(seed_name "$f")" <"$f"
done

# ARNs and ARN patterns named in the worlds, decision tables and policy corpora.
while IFS= read -r arn; do
    printf '%s' "$arn" | put arn "$(printf '%s' "$arn" | hash_name)"
done < <(
    cat "${worlds[@]}" "$data"/decisions/*.yaml "$data"/policy/*.json "$data"/policy/*/*.json |
        grep -oE 'arn:[A-Za-z0-9*?:/_.+=,@$\{\}-]+' | sort -u
)

# Seeds that need the product's own types.
write_seeds="${1:-}"
if [[ -z "$write_seeds" ]]; then
    cargo build --quiet --release --manifest-path "$fuzz/Cargo.toml" --bin write_seeds
    write_seeds="$fuzz/target/release/write_seeds"
fi
"$write_seeds" "$corpus" "$root"

for dir in "$corpus"/*/; do
    printf '%-16s %4d seeds\n' "$(basename "$dir")" "$(find "$dir" -type f | wc -l)"
done
