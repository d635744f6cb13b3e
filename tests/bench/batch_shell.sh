#!/usr/bin/env bash
# batch_shell.sh HOME N: the baseline for `station batch generate`: the
# same job done the simple way, with the command-line tools and one
# process per step, on the demo token of station home HOME. Prints the
# identities per second over N identities (two decimals).
#
# Per identity: a claim ID from the token's RNG (pkcs11-tool), a key pair
# made in the token (pkcs11-tool --keypairgen), a CSR signed by it and
# the certificate signed by the sub-CA in the token (openssl with the
# pkcs11 engine), the record committed (sqlite3); at the end the batch
# encrypted to the station's transport certificate (openssl cms). It does
# less than batch generate (the device keys are not sealed: these tools
# cannot wrap a key to an ECDH-derived KEK; the records are one row, not
# three hash-chained events), so the comparison flatters the script.
# For the bench only: the demo PIN is given to pkcs11-tool in argv, which
# the station never does.
set -eu
H=$1 N=$2
W=$(mktemp -d); trap 'cat "$W/err" >&2 2>/dev/null; rm -rf "$W"' EXIT
export SOFTHSM2_CONF="$H/softhsm2.conf"
MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=$(cat "$H/pin")
cat > "$W/openssl.cnf" <<EOF
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
engine_id = pkcs11
MODULE_PATH = $MODULE
init = 0
EOF
export OPENSSL_CONF="$W/openssl.cnf"
printf '%s' "$PIN" > "$W/pin"
KEY="pkcs11:object=subca;type=private?pin-source=file:$W/pin"
sqlite3 "$W/db" "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
    CREATE TABLE ids (serial TEXT PRIMARY KEY, claim TEXT, cert TEXT);" >/dev/null
t0=$(date +%s%N)
for i in $(seq "$N"); do
	serial=$(printf 'SH-%08d' "$i")
	claim=$(pkcs11-tool --module "$MODULE" --generate-random 8 2>/dev/null | od -An -tx1 | tr -d ' \n')
	pkcs11-tool --module "$MODULE" --login --pin "$PIN" --keypairgen \
	    --key-type EC:prime256v1 --label "sh-$i" --id "$(printf '%08x' "$i")" \
	    >/dev/null 2>>"$W/err"
	openssl req -new -engine pkcs11 -keyform engine \
	    -key "pkcs11:object=sh-$i;type=private?pin-source=file:$W/pin" \
	    -subj "/serialNumber=$serial" -out "$W/csr.pem" 2>>"$W/err"
	openssl x509 -req -in "$W/csr.pem" -engine pkcs11 -CAkeyform engine \
	    -CA "$H/pki/subca.pem" -CAkey "$KEY" -set_serial "0x$claim$claim" \
	    -days 3650 -out "$W/$serial.pem" 2>>"$W/err"
	sqlite3 "$W/db" "PRAGMA synchronous=FULL; INSERT INTO ids VALUES
	    ('$serial', '$claim', '$(tr -d '\n' < "$W/$serial.pem")');"
done
cat "$W"/SH-*.pem > "$W/batch.txt"
[ "$(grep -c "BEGIN CERTIFICATE" "$W/batch.txt")" -eq "$N" ] || { echo "batch_shell: a step failed" >&2; exit 1; }
openssl cms -encrypt -binary -aes256 -recip "$H/pki/station-transport.pem" \
    -keyopt ecdh_kdf_md:sha256 -in "$W/batch.txt" -outform DER \
    -out "$W/batch.cms"
t1=$(date +%s%N)
# Remove the key pairs it made from the token.
for i in $(seq "$N"); do
	pkcs11-tool --module "$MODULE" --login --pin "$PIN" --delete-object \
	    --type privkey --label "sh-$i" >/dev/null 2>&1 || true
	pkcs11-tool --module "$MODULE" --login --pin "$PIN" --delete-object \
	    --type pubkey --label "sh-$i" >/dev/null 2>&1 || true
done
awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f\n", n * 1e9 / ns }'
