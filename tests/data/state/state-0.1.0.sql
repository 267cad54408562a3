-- A state database written by reelwatch 0.1.0 (schema 2): tests/test_migrations.py
BEGIN TRANSACTION;
CREATE TABLE asset_fields (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
INSERT INTO "asset_fields" VALUES('nas','VFX/AGM_010_comp_v002.mov','show','AGM');
INSERT INTO "asset_fields" VALUES('nas','VFX/AGM_010_comp_v002.mov','shot','010');
INSERT INTO "asset_fields" VALUES('nas','VFX/AGM_010_comp_v002.mov','version','002');
CREATE TABLE assets (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, folder TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, kind TEXT, facts TEXT, fields TEXT NOT NULL DEFAULT '{}', first_seen REAL NOT NULL,
    checked_at REAL, batch INTEGER NOT NULL DEFAULT 0, gone_at REAL,
    PRIMARY KEY (volume, relpath));
INSERT INTO "assets" VALUES('raid','A002R2EC/A002C003_250101_R2EC.mov','A002R2EC',1000,5,'media','{"kind": "media", "general": {}, "video": [], "audio": [], "image": [], "other": [], "text": [], "error": null, "derived": {}, "probe": ""}','{}',1750000001.0,1750000001.0,1,NULL);
INSERT INTO "assets" VALUES('raid','A002R2EC/A002C004_250101_R2EC.mov','A002R2EC',0,6,'empty','{"kind": "empty", "general": {}, "video": [], "audio": [], "image": [], "other": [], "text": [], "error": null, "derived": {}, "probe": ""}','{}',1750000002.0,1750000002.0,2,NULL);
INSERT INTO "assets" VALUES('nas','VFX/AGM_010_comp_v002.mov','VFX',2000,7,'media','{"kind": "media", "general": {}, "video": [], "audio": [], "image": [], "other": [], "text": [], "error": null, "derived": {"fields": {"show": "AGM", "shot": "010", "version": "002"}}, "probe": ""}','{"shot": "010", "show": "AGM", "version": "002"}',1750000003.0,1750000003.0,3,NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, event TEXT NOT NULL, volume TEXT, relpath TEXT,
    detail TEXT NOT NULL DEFAULT '{}');
INSERT INTO "audit" VALUES(1,1750000001.0,'checked','raid','A002R2EC/A002C003_250101_R2EC.mov','{"size": 1000, "mtime_ns": 5, "findings": 1}');
INSERT INTO "audit" VALUES(2,1750000001.0,'finding','raid','A002R2EC/A002C003_250101_R2EC.mov','{"id": 1, "rule": "spec.frame_rate", "severity": "error"}');
INSERT INTO "audit" VALUES(3,1750000002.0,'checked','raid','A002R2EC/A002C004_250101_R2EC.mov','{"size": 0, "mtime_ns": 6, "findings": 1}');
INSERT INTO "audit" VALUES(4,1750000002.0,'finding','raid','A002R2EC/A002C004_250101_R2EC.mov','{"id": 2, "rule": "sanity.empty", "severity": "blocker"}');
INSERT INTO "audit" VALUES(5,1750000003.0,'checked','nas','VFX/AGM_010_comp_v002.mov','{"size": 2000, "mtime_ns": 7, "findings": 1}');
INSERT INTO "audit" VALUES(6,1750000003.0,'finding','nas','VFX/AGM_010_comp_v002.mov','{"id": 3, "rule": "naming.template", "severity": "warning"}');
INSERT INTO "audit" VALUES(7,1750000004.0,'ack','raid','A002R2EC/A002C003_250101_R2EC.mov','{"id": 1, "by": "dit@example.org"}');
INSERT INTO "audit" VALUES(8,1750000006.0,'notified',NULL,NULL,'{"message": 1, "role": "dit", "targets": 1, "key": "rw-2cf47f6a26f4"}');
INSERT INTO "audit" VALUES(9,1750000006.0,'notified',NULL,NULL,'{"message": 2, "role": "editorial", "targets": 0, "key": "rw-56c30a9bbd62"}');
INSERT INTO "audit" VALUES(10,1750000006.0,'notified',NULL,NULL,'{"message": 3, "role": "vfx", "targets": 0, "key": "rw-bee9031f8e1d"}');
INSERT INTO "audit" VALUES(11,1750000009.0,'started',NULL,NULL,'{"version": "0.1.0"}');
CREATE TABLE finding_locations (
    finding_id INTEGER NOT NULL, volume TEXT NOT NULL, relpath TEXT NOT NULL, scope TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '', PRIMARY KEY (finding_id, volume, relpath));
INSERT INTO "finding_locations" VALUES(1,'raid','A002R2EC/A002C003_250101_R2EC.mov','raid/A002R2EC','A002C003_250101_R2EC.mov1000','/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov');
INSERT INTO "finding_locations" VALUES(2,'raid','A002R2EC/A002C004_250101_R2EC.mov','raid/A002R2EC','A002C004_250101_R2EC.mov0','/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov');
INSERT INTO "finding_locations" VALUES(3,'nas','VFX/AGM_010_comp_v002.mov','nas/VFX','AGM_010_comp_v002.mov2000','/mnt/nas/VFX/AGM_010_comp_v002.mov');
CREATE TABLE findings (
    id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, origin TEXT NOT NULL, plugin TEXT NOT NULL,
    volume TEXT NOT NULL, relpath TEXT NOT NULL, scope TEXT NOT NULL, rule TEXT NOT NULL,
    severity INTEGER NOT NULL, owner TEXT, roles TEXT NOT NULL, data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open', first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    resolved_at REAL, acked_at REAL, acked_by TEXT, escalated_at REAL);
INSERT INTO "findings" VALUES(1,'spec.frame_rateraidA002R2EC/A002C003_250101_R2EC.mov25 fps, expected 23.976','check','','raid','A002R2EC/A002C003_250101_R2EC.mov','raid/A002R2EC','spec.frame_rate',30,'dit','["dit", "editorial"]','{"rule": "spec.frame_rate", "severity": "error", "path": "/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C003_250101_R2EC.mov", "message": "25 fps, expected 23.976", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}}','acked',1750000001.0,1750000001.0,NULL,1750000004.0,'dit@example.org',NULL);
INSERT INTO "findings" VALUES(2,'sanity.emptyraidA002R2EC/A002C004_250101_R2EC.movthe file is empty','check','','raid','A002R2EC/A002C004_250101_R2EC.mov','raid/A002R2EC','sanity.empty',40,'dit','["dit", "editorial"]','{"rule": "sanity.empty", "severity": "blocker", "path": "/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C004_250101_R2EC.mov", "message": "the file is empty", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}}','open',1750000002.0,1750000002.0,NULL,NULL,NULL,NULL);
INSERT INTO "findings" VALUES(3,'naming.templatenasVFX/AGM_010_comp_v002.movthe name does not match','check','','nas','VFX/AGM_010_comp_v002.mov','nas/VFX','naming.template',20,'vfx','["editorial", "vfx"]','{"rule": "naming.template", "severity": "warning", "path": "/mnt/nas/VFX/AGM_010_comp_v002.mov", "volume": "nas", "relpath": "VFX/AGM_010_comp_v002.mov", "message": "the name does not match", "expected": "", "owner": "vfx", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}}','open',1750000003.0,1750000003.0,NULL,NULL,NULL,NULL);
CREATE TABLE hashes (
    path TEXT NOT NULL, algo TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL, hashed_at REAL NOT NULL, PRIMARY KEY (path, algo));
INSERT INTO "hashes" VALUES('/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov','xxh128',1000,5,'00000000000000000000000000000000',1750000008.0);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema','2');
INSERT INTO "meta" VALUES('target_salt','ac9fe0c6ba78439c94de88a6c3129304');
INSERT INTO "meta" VALUES('batch','3');
CREATE TABLE notices (
    id INTEGER PRIMARY KEY, role TEXT NOT NULL, kind TEXT NOT NULL, finding_id INTEGER,
    severity INTEGER NOT NULL, data TEXT NOT NULL, created REAL NOT NULL, message_id INTEGER);
INSERT INTO "notices" VALUES(1,'dit','new',1,30,'{"rule": "spec.frame_rate", "severity": "error", "path": "/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C003_250101_R2EC.mov", "message": "25 fps, expected 23.976", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 1}',1750000001.0,1);
INSERT INTO "notices" VALUES(2,'editorial','affects',1,30,'{"rule": "spec.frame_rate", "severity": "error", "path": "/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C003_250101_R2EC.mov", "message": "25 fps, expected 23.976", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 1}',1750000001.0,2);
INSERT INTO "notices" VALUES(3,'dit','new',2,40,'{"rule": "sanity.empty", "severity": "blocker", "path": "/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C004_250101_R2EC.mov", "message": "the file is empty", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 2}',1750000002.0,1);
INSERT INTO "notices" VALUES(4,'editorial','affects',2,40,'{"rule": "sanity.empty", "severity": "blocker", "path": "/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C004_250101_R2EC.mov", "message": "the file is empty", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 2}',1750000002.0,2);
INSERT INTO "notices" VALUES(5,'vfx','new',3,20,'{"rule": "naming.template", "severity": "warning", "path": "/mnt/nas/VFX/AGM_010_comp_v002.mov", "volume": "nas", "relpath": "VFX/AGM_010_comp_v002.mov", "message": "the name does not match", "expected": "", "owner": "vfx", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 3}',1750000003.0,3);
INSERT INTO "notices" VALUES(6,'editorial','affects',3,20,'{"rule": "naming.template", "severity": "warning", "path": "/mnt/nas/VFX/AGM_010_comp_v002.mov", "volume": "nas", "relpath": "VFX/AGM_010_comp_v002.mov", "message": "the name does not match", "expected": "", "owner": "vfx", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 3}',1750000003.0,2);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, role TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, delivered TEXT NOT NULL DEFAULT '[]', last_error TEXT, sent_at REAL,
    sending TEXT);
INSERT INTO "outbox" VALUES(1,'dit','{"role": "dit", "production": "Untitled production", "notices": [{"kind": "new", "finding": {"rule": "spec.frame_rate", "severity": "error", "path": "/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C003_250101_R2EC.mov", "message": "25 fps, expected 23.976", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 1}}, {"kind": "new", "finding": {"rule": "sanity.empty", "severity": "blocker", "path": "/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C004_250101_R2EC.mov", "message": "the file is empty", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 2}}], "kind": "findings", "subject": "", "text": "", "attachments": [], "id": 0, "key": "", "repeat": false}',1750000005.0,'sent',1,1750000005.0,'["t-a1fc555ae893c307"]',NULL,1750000006.0,NULL);
INSERT INTO "outbox" VALUES(2,'editorial','{"role": "editorial", "production": "Untitled production", "notices": [{"kind": "affects", "finding": {"rule": "spec.frame_rate", "severity": "error", "path": "/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C003_250101_R2EC.mov", "message": "25 fps, expected 23.976", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 1}}, {"kind": "affects", "finding": {"rule": "sanity.empty", "severity": "blocker", "path": "/mnt/raid/A002R2EC/A002C004_250101_R2EC.mov", "volume": "raid", "relpath": "A002R2EC/A002C004_250101_R2EC.mov", "message": "the file is empty", "expected": "", "owner": "dit", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 2}}, {"kind": "affects", "finding": {"rule": "naming.template", "severity": "warning", "path": "/mnt/nas/VFX/AGM_010_comp_v002.mov", "volume": "nas", "relpath": "VFX/AGM_010_comp_v002.mov", "message": "the name does not match", "expected": "", "owner": "vfx", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 3}}], "kind": "findings", "subject": "", "text": "", "attachments": [], "id": 0, "key": "", "repeat": false}',1750000005.0,'sent',1,1750000005.0,'[]',NULL,1750000006.0,NULL);
INSERT INTO "outbox" VALUES(3,'vfx','{"role": "vfx", "production": "Untitled production", "notices": [{"kind": "new", "finding": {"rule": "naming.template", "severity": "warning", "path": "/mnt/nas/VFX/AGM_010_comp_v002.mov", "volume": "nas", "relpath": "VFX/AGM_010_comp_v002.mov", "message": "the name does not match", "expected": "", "owner": "vfx", "impacts": ["editorial"], "impact": "", "fix": "", "plugin": "", "details": {}, "id": 3}}], "kind": "findings", "subject": "", "text": "", "attachments": [], "id": 0, "key": "", "repeat": false}',1750000005.0,'sent',1,1750000005.0,'[]',NULL,1750000006.0,NULL);
INSERT INTO "outbox" VALUES(4,'dit','{"role": "dit", "production": "", "notices": [], "kind": "admin", "subject": "pending", "text": "still to send", "attachments": [], "id": 0, "key": "", "repeat": false}',1750000007.0,'pending',0,1750000007.0,'[]',NULL,NULL,NULL);
CREATE TABLE tool_status (
    name TEXT PRIMARY KEY, health TEXT NOT NULL, detail TEXT, held INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL);
CREATE TABLE volume_status (
    volume TEXT PRIMARY KEY, observer TEXT, health TEXT, last_event REAL, queue_depth INTEGER,
    detail TEXT, updated REAL NOT NULL);
CREATE INDEX assets_folder ON assets (volume, folder);
CREATE INDEX asset_fields_nv ON asset_fields (name, value);
CREATE INDEX asset_fields_asset ON asset_fields (volume, relpath);
CREATE INDEX findings_asset ON findings (volume, relpath, status);
CREATE INDEX findings_open ON findings (status, severity);
CREATE INDEX findings_fp ON findings (fingerprint, status);
CREATE INDEX notices_pending ON notices (message_id, role);
CREATE INDEX outbox_state ON outbox (state, role, id);
CREATE INDEX audit_asset ON audit (volume, relpath);
CREATE INDEX audit_relpath ON audit (relpath);
CREATE INDEX finding_locations_at ON finding_locations (volume, relpath);
CREATE INDEX finding_locations_scope ON finding_locations (scope);
CREATE INDEX finding_locations_content ON finding_locations (content);
COMMIT;
