/*
 * schema.c: the database schema and its migrations.
 *
 * PRAGMA user_version is the schema version; migrations[i] takes version i
 * to i + 1 inside one transaction, so a database is always at a version
 * this code knows, or refused. The append-only triggers are listed apart
 * because audit_verify() checks that they are still there, word for word:
 * an honest station never drops them.
 */
#include <stddef.h>
#include <stdio.h>

#include "audit/internal.h"

const char *const audit_triggers[] = {
	"CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
	    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
	"CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
	    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
	"CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints "
	    "BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END",
	"CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints "
	    "BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END",
	"CREATE TRIGGER station_no_update BEFORE UPDATE ON station "
	    "BEGIN SELECT RAISE(ABORT, 'the station identity is fixed'); END",
	"CREATE TRIGGER station_no_delete BEFORE DELETE ON station "
	    "BEGIN SELECT RAISE(ABORT, 'the station identity is fixed'); END",
	"CREATE TRIGGER devices_no_delete BEFORE DELETE ON devices "
	    "BEGIN SELECT RAISE(ABORT, 'devices are never deleted'); END",
	"CREATE TRIGGER devices_keep_identity BEFORE UPDATE OF serial, "
	    "claim_id ON devices "
	    "BEGIN SELECT RAISE(ABORT, 'serials and claim ids never change'); END",
	"CREATE TRIGGER cert_serials_no_update BEFORE UPDATE ON cert_serials "
	    "BEGIN SELECT RAISE(ABORT, 'certificate serials are never reused'); END",
	"CREATE TRIGGER cert_serials_no_delete BEFORE DELETE ON cert_serials "
	    "BEGIN SELECT RAISE(ABORT, 'certificate serials are never reused'); END",
	"CREATE TRIGGER orders_no_update BEFORE UPDATE ON orders "
	    "BEGIN SELECT RAISE(ABORT, 'orders are never changed'); END",
	"CREATE TRIGGER orders_no_delete BEFORE DELETE ON orders "
	    "BEGIN SELECT RAISE(ABORT, 'orders are never changed'); END",
	"CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys "
	    "BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END",
	"CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys "
	    "BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END",
};
const size_t audit_ntriggers = sizeof(audit_triggers) / sizeof(audit_triggers[0]);

/* Version 0 -> 1: everything. */
static const char schema_v1[] =
	"CREATE TABLE station ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  station_id TEXT NOT NULL,"
	"  created_us INTEGER NOT NULL);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY,"
	"  time_us INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  details BLOB NOT NULL,"
	"  hash BLOB NOT NULL);"
	"CREATE INDEX events_subject ON events (subject);"
	"CREATE TABLE checkpoints ("
	"  head_seq INTEGER PRIMARY KEY,"
	"  event_count INTEGER NOT NULL,"
	"  head_hash BLOB NOT NULL,"
	"  time_us INTEGER NOT NULL,"
	"  station_id TEXT NOT NULL,"
	"  key_id BLOB NOT NULL,"
	"  signature BLOB NOT NULL);"
	"CREATE TABLE audit_keys ("
	"  key_id BLOB PRIMARY KEY,"
	"  pem TEXT NOT NULL,"
	"  added_us INTEGER NOT NULL);"
	"CREATE TABLE orders ("
	"  order_id TEXT PRIMARY KEY,"
	"  product TEXT NOT NULL,"
	"  quantity INTEGER NOT NULL,"
	"  serial_first INTEGER NOT NULL,"
	"  serial_last INTEGER NOT NULL,"
	"  document BLOB NOT NULL,"
	"  added_us INTEGER NOT NULL);"
	"CREATE TABLE devices ("
	"  serial TEXT PRIMARY KEY,"
	"  claim_id TEXT NOT NULL UNIQUE,"
	"  hardware_id TEXT,"
	"  order_id TEXT REFERENCES orders (order_id),"
	"  key_mode TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  public_key BLOB,"
	"  cert_serial TEXT UNIQUE,"
	"  cert_der BLOB,"
	"  reason TEXT,"
	"  created_us INTEGER NOT NULL,"
	"  updated_us INTEGER NOT NULL,"
	"  last_seq INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX devices_hardware ON devices (hardware_id)"
	"  WHERE hardware_id IS NOT NULL AND state NOT IN ('failed', 'voided', 'revoked');"
	"CREATE INDEX devices_state ON devices (state);"
	"CREATE INDEX devices_order ON devices (order_id);"
	"CREATE TABLE cert_serials ("
	"  cert_serial TEXT PRIMARY KEY,"
	"  serial TEXT NOT NULL REFERENCES devices (serial)) WITHOUT ROWID;"
	"CREATE TABLE deny_list ("
	"  kind TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  added_us INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, value)) WITHOUT ROWID;";

static const char *const migrations[] = {
	schema_v1,
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))


int
audit_migrate(struct audit *a, bool *created)
{
	sqlite3_stmt *st = NULL;
	int version, ret = -1;
	char sql[64];

	*created = false;
	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return audit_sqlfail(a, "cannot lock the database");
	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		audit_sqlfail(a, "cannot read the schema version");
		goto cleanup;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version < 0 || (size_t)version > NMIGRATIONS) {
		audit_fail(a, "database schema version %d is newer than this "
		    "program knows (%zu); use a newer station", version,
		    NMIGRATIONS);
		goto cleanup;
	}
	*created = version == 0;
	if (version == 0) {
		/* Never move into someone else's database. */
		if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM sqlite_master",
		    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
			audit_sqlfail(a, "cannot read the schema");
			goto cleanup;
		}
		if (sqlite3_column_int(st, 0) != 0) {
			audit_fail(a, "not a station database (it holds other "
			    "tables); check [audit] database");
			goto cleanup;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	for (size_t v = (size_t)version; v < NMIGRATIONS; v++) {
		if (sqlite3_exec(a->db, migrations[v], NULL, NULL, NULL) !=
		    SQLITE_OK) {
			audit_sqlfail(a, "schema migration failed");
			goto cleanup;
		}
		if (v == 0) {
			for (size_t i = 0; i < audit_ntriggers; i++) {
				if (sqlite3_exec(a->db, audit_triggers[i], NULL,
				    NULL, NULL) != SQLITE_OK) {
					audit_sqlfail(a, "schema migration failed");
					goto cleanup;
				}
			}
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", v + 1);
		if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			audit_sqlfail(a, "schema migration failed");
			goto cleanup;
		}
	}
	if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		audit_sqlfail(a, "cannot commit the schema");
		goto cleanup;
	}
	return 0;
cleanup:
	sqlite3_finalize(st);
	sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}
