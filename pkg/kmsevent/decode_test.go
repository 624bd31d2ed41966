package kmsevent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

const (
	key1 = "arn:aws:kms:eu-west-1:444455556666:key/6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	key2 = "arn:aws:kms:eu-west-1:444455556666:key/0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
	mrk  = "arn:aws:kms:eu-west-1:444455556666:key/mrk-5e0c3b1a9d8f47a6b2c4d6e8f0a1b3c5"
)

// golden is what a golden file holds for one input.
type golden struct {
	Events []Event `json:"events"`
	Error  string  `json:"error,omitempty"`
}

// TestDecodeGolden decodes every fixture and compares all fields of the
// result with testdata/golden. Run with -update to rewrite them, then review
// the diff.
func TestDecodeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		dir := filepath.Base(filepath.Dir(path))
		if dir == "golden" || dir == "fuzz" {
			continue
		}
		n++
		name := dir + "/" + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			events, err := Decode(raw)
			g := golden{Events: events}
			if err != nil {
				g.Error = err.Error()
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			testutil.Golden(t, filepath.Join("testdata", "golden", name+".json"), got)
		})
	}
	if n < 50 {
		t.Fatalf("found only %d fixtures; testdata is incomplete", n)
	}
}

// readFixture reads testdata/<path>.
func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// decodeOne decodes a fixture that must give exactly one event.
func decodeOne(t *testing.T, path string) Event {
	t.Helper()
	events, err := Decode(readFixture(t, path))
	if err != nil {
		t.Fatalf("Decode(%s): %v", path, err)
	}
	if len(events) != 1 {
		t.Fatalf("Decode(%s) gave %d events, want 1", path, len(events))
	}
	return events[0]
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDecodeFields states, for every event name the monitor handles, the
// fields that matter: the golden files pin the rest.
func TestDecodeFields(t *testing.T) {
	tests := []struct {
		file      string
		kind      Kind
		name      string
		relevance Relevance
		keys      []string
		check     func(t *testing.T, e Event)
	}{
		{"records/putkeypolicy.json", APICall, "PutKeyPolicy", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if !strings.Contains(e.Policy, `"kms:ViaService": "fsx.eu-west-1.amazonaws.com"`) {
				t.Errorf("Policy = %q, want the decoded policy text", e.Policy)
			}
			if !e.BypassPolicyLockoutSafetyCheck {
				t.Error("BypassPolicyLockoutSafetyCheck = false, want true")
			}
			if e.Actor.ARN != "arn:aws:iam::444455556666:user/storage-admin" || e.Actor.Type != "IAMUser" || e.Actor.SourceIP != "203.0.113.10" {
				t.Errorf("Actor = %+v", e.Actor)
			}
			if e.Account != "444455556666" || e.Region != "eu-west-1" || !e.EventTime.Equal(mustTime("2026-03-02T10:15:00Z")) {
				t.Errorf("Account, Region, EventTime = %q, %q, %v", e.Account, e.Region, e.EventTime)
			}
		}},
		{"records/disablekey-2021.json", APICall, "DisableKey", Breaking, []string{key1}, nil},
		{"records/disablekey-console.json", APICall, "DisableKey", Breaking, []string{key1}, func(t *testing.T, e Event) {
			want := Actor{
				ARN:       "arn:aws:sts::444455556666:assumed-role/StorageOps/jdoe",
				Type:      "AssumedRole",
				SourceIP:  "203.0.113.10",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
				Console:   true,
				Account:   "444455556666",
				IssuerARN: "arn:aws:iam::444455556666:role/StorageOps",
			}
			if e.Actor != want {
				t.Errorf("Actor = %+v, want %+v", e.Actor, want)
			}
		}},
		{"records/disablekey-accessdenied.json", APICall, "DisableKey", Attempted, []string{key1}, func(t *testing.T, e Event) {
			if !e.Failed || e.ErrorCode != "AccessDenied" || !strings.Contains(e.ErrorMessage, "not authorized") {
				t.Errorf("Failed, ErrorCode, ErrorMessage = %v, %q, %q", e.Failed, e.ErrorCode, e.ErrorMessage)
			}
		}},
		{"records/disablekey-accessdeniedexception.json", APICall, "DisableKey", Attempted, []string{key2}, nil},
		{"records/disablekey-alias-denied.json", APICall, "DisableKey", Attempted, []string{}, func(t *testing.T, e Event) {
			if !reflect.DeepEqual(e.Aliases, []string{"alias/fsx-prod"}) {
				t.Errorf("Aliases = %q, want [alias/fsx-prod]", e.Aliases)
			}
		}},
		{"records/disablekey-notfound.json", APICall, "DisableKey", Ignored, []string{"arn:aws:kms:eu-west-1:444455556666:key/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}, func(t *testing.T, e Event) {
			if !e.Failed || e.ErrorCode != "NotFoundException" || e.ErrorMessage != "" || !strings.Contains(e.Reason, "NotFoundException") {
				t.Errorf("Failed, ErrorCode, ErrorMessage, Reason = %v, %q, %q, %q", e.Failed, e.ErrorCode, e.ErrorMessage, e.Reason)
			}
		}},
		{"records/disablekey-synthetic-ids.json", APICall, "DisableKey", Breaking, []string{"arn:aws:kms:eu-west-1:9999000011112:key/k1"}, nil},
		{"records/enablekey.json", APICall, "EnableKey", Restoring, []string{key1}, nil},
		{"records/schedulekeydeletion.json", APICall, "ScheduleKeyDeletion", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.PendingWindowInDays != 7 || !e.DeletionDate.Equal(mustTime("2026-03-09T17:20:41Z")) || e.KeyState != "PendingDeletion" {
				t.Errorf("PendingWindowInDays, DeletionDate, KeyState = %d, %v, %q", e.PendingWindowInDays, e.DeletionDate, e.KeyState)
			}
		}},
		{"records/schedulekeydeletion-mrk.json", APICall, "ScheduleKeyDeletion", Breaking, []string{mrk}, func(t *testing.T, e Event) {
			if !e.DeletionDate.IsZero() || e.KeyState != "PendingReplicaDeletion" || e.PendingWindowInDays != 30 {
				t.Errorf("DeletionDate, KeyState, PendingWindowInDays = %v, %q, %d", e.DeletionDate, e.KeyState, e.PendingWindowInDays)
			}
		}},
		{"records/schedulekeydeletion-resources-null.json", APICall, "ScheduleKeyDeletion", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if !e.DeletionDate.Equal(mustTime("2025-11-02T23:25:25Z")) {
				t.Errorf("DeletionDate = %v", e.DeletionDate)
			}
		}},
		{"records/schedulekeydeletion-cks.json", APICall, "ScheduleKeyDeletion", Breaking, []string{key2}, func(t *testing.T, e Event) {
			if e.CustomKeyStoreID != "cks-0a1b2c3d4e5f60718" || !e.DeletionDate.Equal(mustTime("2026-06-01T09:05:00Z")) {
				t.Errorf("CustomKeyStoreID, DeletionDate = %q, %v", e.CustomKeyStoreID, e.DeletionDate)
			}
		}},
		{"records/schedulekeydeletion-baddate.json", APICall, "ScheduleKeyDeletion", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if !e.DeletionDate.IsZero() || len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "next Tuesday") || e.PendingWindowInDays != 15 {
				t.Errorf("DeletionDate, Warnings, PendingWindowInDays = %v, %q, %d", e.DeletionDate, e.Warnings, e.PendingWindowInDays)
			}
		}},
		{"records/cancelkeydeletion.json", APICall, "CancelKeyDeletion", Restoring, []string{key1}, nil},
		{"records/revokegrant.json", APICall, "RevokeGrant", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.GrantID != "1f2e3d4c5b6a79880716253443526170819a0b1c2d3e4f5a6b7c8d9e0f1a2b3c" {
				t.Errorf("GrantID = %q", e.GrantID)
			}
		}},
		{"records/retiregrant.json", APICall, "RetireGrant", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.GrantID != "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9" {
				t.Errorf("GrantID = %q, want additionalEventData.grantId", e.GrantID)
			}
		}},
		{"records/retiregrant-service.json", APICall, "RetireGrant", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.Actor.Type != "AWSService" || e.Actor.InvokedBy != "AWS Internal" || e.Actor.ARN != "" {
				t.Errorf("Actor = %+v", e.Actor)
			}
		}},
		{"records/retiregrant-fsx-account.json", APICall, "RetireGrant", Breaking, []string{key1}, func(t *testing.T, e Event) {
			// FSx's own call from an account FSx owns: the event stays the
			// key owner's; the actor says who called.
			if e.Actor.Type != "AWSAccount" || e.Actor.InvokedBy != "fsx.amazonaws.com" || e.Actor.Account != "999988887777" || e.Actor.ARN != "" {
				t.Errorf("Actor = %+v", e.Actor)
			}
			if e.Account != "444455556666" || e.GrantID == "" {
				t.Errorf("Account, GrantID = %q, %q", e.Account, e.GrantID)
			}
		}},
		{"records/retiregrant-fsx-service.json", APICall, "RetireGrant", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.Actor.Type != "AWSService" || e.Actor.InvokedBy != "fsx.amazonaws.com" || e.Actor.SourceIP != "fsx.amazonaws.com" {
				t.Errorf("Actor = %+v", e.Actor)
			}
		}},
		{"records/retiregrant-placeholders.json", APICall, "RetireGrant", Ignored, []string{}, func(t *testing.T, e Event) {
			if !strings.Contains(e.Reason, "would be breaking") || len(e.Warnings) != 2 {
				t.Errorf("Reason, Warnings = %q, %q", e.Reason, e.Warnings)
			}
		}},
		{"records/creategrant.json", APICall, "CreateGrant", Restoring, []string{key1}, func(t *testing.T, e Event) {
			if e.GrantID != "3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a3928170605f4e" {
				t.Errorf("GrantID = %q", e.GrantID)
			}
			if e.Actor.InvokedBy != "fsx.amazonaws.com" || e.Actor.SourceIP != "fsx.amazonaws.com" || !e.Actor.Console {
				t.Errorf("Actor = %+v", e.Actor)
			}
		}},
		{"records/creategrant-2014.json", APICall, "CreateGrant", Restoring, []string{key1}, nil},
		{"records/creategrant-dryrun.json", APICall, "CreateGrant", Ignored, []string{key1}, nil},
		{"records/creategrant-accessdenied.json", APICall, "CreateGrant", Attempted, []string{key1}, nil},
		{"records/deleteimportedkeymaterial.json", APICall, "DeleteImportedKeyMaterial", Breaking, []string{key2}, nil},
		{"records/importkeymaterial.json", APICall, "ImportKeyMaterial", Restoring, []string{key2}, nil},
		{"records/deleteexpiredkeymaterial.json", ServiceEvent, "DeleteExpiredKeyMaterial", Breaking, []string{key2}, func(t *testing.T, e Event) {
			if e.Actor.Type != "" || e.Actor.InvokedBy != "AWS Internal" || e.Actor.Account != "444455556666" {
				t.Errorf("Actor = %+v", e.Actor)
			}
		}},
		{"records/deleteexpiredkeymaterial-noresources.json", ServiceEvent, "DeleteExpiredKeyMaterial", Breaking, []string{key2}, nil},
		{"records/deletekey.json", ServiceEvent, "DeleteKey", Breaking, []string{key1}, nil},
		{"records/disconnectcustomkeystore.json", APICall, "DisconnectCustomKeyStore", Breaking, []string{}, func(t *testing.T, e Event) {
			if e.CustomKeyStoreID != "cks-0a1b2c3d4e5f60718" {
				t.Errorf("CustomKeyStoreID = %q", e.CustomKeyStoreID)
			}
		}},
		{"records/connectcustomkeystore.json", APICall, "ConnectCustomKeyStore", Restoring, []string{}, nil},
		{"records/updateprimaryregion.json", APICall, "UpdatePrimaryRegion", Breaking, []string{mrk}, nil},
		{"records/createalias.json", APICall, "CreateAlias", Notable, []string{key1}, func(t *testing.T, e Event) {
			if !reflect.DeepEqual(e.Aliases, []string{"arn:aws:kms:eu-west-1:444455556666:alias/fsx-prod"}) {
				t.Errorf("Aliases = %q", e.Aliases)
			}
		}},
		{"records/createalias-targetkeyid.json", APICall, "CreateAlias", Notable, []string{key2}, func(t *testing.T, e Event) {
			if !reflect.DeepEqual(e.Aliases, []string{"alias/fsx-test"}) {
				t.Errorf("Aliases = %q", e.Aliases)
			}
		}},
		{"records/updatealias.json", APICall, "UpdateAlias", Notable, []string{key2}, nil},
		{"records/deletealias-2014.json", APICall, "DeleteAlias", Notable, []string{key1}, func(t *testing.T, e Event) {
			if !reflect.DeepEqual(e.Aliases, []string{"arn:aws:kms:us-east-1:444455556666:alias/fsx-old"}) {
				t.Errorf("Aliases = %q", e.Aliases)
			}
		}},
		{"records/disablekeyrotation.json", APICall, "DisableKeyRotation", Notable, []string{key1}, nil},
		{"records/enablekeyrotation.json", APICall, "EnableKeyRotation", Notable, []string{key1}, nil},
		{"records/rotatekey.json", ServiceEvent, "RotateKey", Notable, []string{key1}, nil},
		{"records/tagresource.json", APICall, "TagResource", Notable, []string{key1}, nil},
		{"records/createkey.json", APICall, "CreateKey", Ignored, []string{key1}, nil},
		{"records/decrypt.json", APICall, "Decrypt", Ignored, []string{key1}, nil},
		{"eventbridge/kms-cmk-deletion.json", KMSEvent, "KMS CMK Deletion", Breaking, []string{key1}, func(t *testing.T, e Event) {
			if e.EventID != "0b6d1c2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d" || !e.EventTime.Equal(mustTime("2026-03-09T17:21:00Z")) || e.Account != "444455556666" {
				t.Errorf("EventID, EventTime, Account = %q, %v, %q", e.EventID, e.EventTime, e.Account)
			}
		}},
		{"eventbridge/kms-cmk-deletion-noresources.json", KMSEvent, "KMS CMK Deletion", Breaking, []string{key1}, nil},
		{"eventbridge/kms-cmk-rotation.json", KMSEvent, "KMS CMK Rotation", Notable, []string{key1}, nil},
		{"eventbridge/kms-imported-key-material-expiration.json", KMSEvent, "KMS Imported Key Material Expiration", Breaking, []string{key2}, nil},
		{"eventbridge/putkeypolicy.json", APICall, "PutKeyPolicy", Breaking, []string{key1}, nil},
		{"eventbridge/deletekey.json", ServiceEvent, "DeleteKey", Breaking, []string{key1}, nil},
		{"eventbridge/other-source.json", KMSEvent, "FSx File System State Change", Ignored, []string{}, nil},
		{"eventbridge/unknown-kms-detail-type.json", KMSEvent, "KMS Key Material Import Reminder", Ignored, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := decodeOne(t, tt.file)
			if e.Kind != tt.kind || e.EventName != tt.name || e.Relevance != tt.relevance {
				t.Errorf("Kind, EventName, Relevance = %q, %q, %q; want %q, %q, %q (reason %q)",
					e.Kind, e.EventName, e.Relevance, tt.kind, tt.name, tt.relevance, e.Reason)
			}
			if !reflect.DeepEqual(e.KeyARNs, tt.keys) {
				t.Errorf("KeyARNs = %q, want %q (warnings %q)", e.KeyARNs, tt.keys, e.Warnings)
			}
			if e.Reason == "" || e.EventID == "" || e.EventTime.IsZero() {
				t.Errorf("Reason, EventID, EventTime = %q, %q, %v; want all set", e.Reason, e.EventID, e.EventTime)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}

	// Every event name of the table has a fixture above.
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name] = true
	}
	for name := range rules {
		if !covered[name] && name != "RotateKeyOnDemand" && name != "ReplicateKey" && name != "UntagResource" && name != "UpdateCustomKeyStore" {
			t.Errorf("no fixture for %s", name)
		}
	}
}

// TestEnvelopes decodes every bare record also as the detail of an
// EventBridge event and inside a CloudTrail log file, and wants the same
// events from all three.
func TestEnvelopes(t *testing.T) {
	files, err := filepath.Glob("testdata/records/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no records in testdata/records: %v", err)
	}
	var all []Event
	var records []json.RawMessage
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bare, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		all = append(all, bare...)
		records = append(records, raw)

		var head struct{ EventType, EventTime string }
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		detailType := "AWS API Call via CloudTrail"
		if head.EventType == "AwsServiceEvent" {
			detailType = "AWS Service Event via CloudTrail"
		}
		envelope, err := json.Marshal(map[string]any{
			"version": "0", "id": "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a", "detail-type": detailType,
			"source": "aws.kms", "account": "444455556666", "time": head.EventTime, "region": "eu-west-1",
			"resources": []string{}, "detail": json.RawMessage(raw),
		})
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := Decode(envelope)
		if err != nil {
			t.Fatalf("%s in an EventBridge event: %v", path, err)
		}
		if !reflect.DeepEqual(wrapped, bare) {
			t.Errorf("%s: EventBridge event gives\n%+v\nbare record gives\n%+v", path, wrapped, bare)
		}
	}
	log, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	fromLog, err := Decode(log)
	if err != nil {
		t.Fatalf("log file: %v", err)
	}
	if !reflect.DeepEqual(fromLog, all) {
		t.Errorf("log file of all records gives %d events that differ from the %d bare records", len(fromLog), len(all))
	}
}

// TestDecodeErrors feeds bad input and wants an error naming the problem.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"not-json.txt", "input is not JSON"},
		{"truncated.json", "not JSON: unexpected end of JSON input"},
		{"array.json", "input is a JSON array, want an object"},
		{"placebo-describekey.json", "neither an EventBridge event"},
		{"other-object.json", "neither an EventBridge event"},
		{"detail-string.json", `EventBridge event "7cde8d9b-0fa1-4c12-9d3e-4f5a6b7c8d9e": detail: record is not a JSON object`},
		{"detail-missing.json", `detail-type "AWS API Call via CloudTrail" without a detail`},
		{"eventname-number.json", "eventName is a JSON number, want a string"},
		{"eventtime-missing.json", `DisableKey e7d00098-1a2b-4c3d-9e8f-7a6b5c4d3e2f: "eventTime" is missing`},
		{"eventtime-bad.json", `eventTime "Mar 2, 2026 10:15:00 AM" is not an RFC 3339 time`},
		{"eventid-missing.json", `DisableKey: "eventID" is missing`},
		{"requestparameters-array.json", "requestParameters is not a JSON object"},
		{"resources-string.json", "resources is a JSON string, want an array"},
		{"native-resources-objects.json", "resources: got a JSON object, want a string"},
		{"records-object.json", "Records: got a JSON object, want an array"},
		{"records-null.json", "Records is null"},
		{"bypass-not-bool.json", `"maybe" is not a boolean`},
		{"two-objects.json", "invalid character '{' after top-level value"},
		{"detail-type-missing.json", `"detail-type" is missing`},
		{"destination-payload-null.json", `Lambda destination record "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2": requestPayload is null`},
		{"destination-payload-array.json", "requestPayload is a JSON array, want the event (an object)"},
		{"destination-nested.json", "requestPayload: another Lambda destination record, want the event"},
		{"destination-payload-not-event.json", "requestPayload: JSON object is neither an EventBridge event"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events, err := Decode(readFixture(t, "bad/"+tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want one containing %q", err, tt.want)
			}
			if len(events) != 0 {
				t.Errorf("Decode gave %d events with the error, want none", len(events))
			}
		})
	}

	t.Run("empty", func(t *testing.T) {
		if _, err := Decode([]byte(" \n")); err == nil || !strings.Contains(err.Error(), "input is empty") {
			t.Errorf("Decode error = %v, want input is empty", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		raw := make([]byte, MaxInputSize+1)
		for i := range raw {
			raw[i] = ' '
		}
		if _, err := Decode(raw); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("Decode error = %v, want the size limit", err)
		}
	})
}

// TestDecodeLogWithBadRecords wants the good records of a log file decoded
// and every bad one reported with its index.
func TestDecodeLogWithBadRecords(t *testing.T) {
	events, err := Decode(readFixture(t, "logs/bad-records.json"))
	var names []string
	for _, e := range events {
		names = append(names, e.EventName)
	}
	if want := []string{"PutKeyPolicy", "RetireGrant"}; !reflect.DeepEqual(names, want) {
		t.Errorf("events = %q, want %q", names, want)
	}
	if err == nil {
		t.Fatal("Decode returned no error for a log file with 3 bad records")
	}
	for _, want := range []string{
		`Records[1]: RevokeGrant e7d0`,
		`Records[3]: EnableKey e7d0`,
		`requestParameters: keyId is a JSON number, want a string`,
		`Records[4]: record is not a JSON object`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("error has %d lines, want one per bad record (3):\n%v", n, err)
	}
}

func TestDecodeLogMixed(t *testing.T) {
	events, err := Decode(readFixture(t, "logs/mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.EventName+":"+string(e.Relevance))
	}
	want := []string{"RunInstances:ignored", "CreateGrant:restoring", "GenerateDataKeyWithoutPlaintext:ignored", "DisableKey:breaking"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if !strings.Contains(events[0].Reason, "ec2.amazonaws.com is not KMS") {
		t.Errorf("RunInstances reason = %q", events[0].Reason)
	}
}

func TestDecodeEmptyLog(t *testing.T) {
	events, err := Decode([]byte(`{"Records": []}`))
	if err != nil || len(events) != 0 {
		t.Errorf("Decode(empty log) = %v, %v; want no events, no error", events, err)
	}
}

// quirks maps each of the 20 quirks listed in ../shared/samples/SOURCES.md
// to the project's own fixtures that reproduce it; the golden files and the
// tests above assert how each is decoded.
var quirks = map[int][]string{
	1:  {"records/disablekey-synthetic-ids.json", "records/schedulekeydeletion-mrk.json", "records/disablekeyrotation.json", "records/disablekey-alias-denied.json"}, // key as UUID, ARN, mrk-, alias, short id
	2:  {"records/createalias-targetkeyid.json", "records/deletealias-2014.json", "records/createkey.json", "records/retiregrant.json", "records/deleteexpiredkeymaterial-noresources.json"},
	3:  {"records/disablekey-2021.json", "records/disablekey-console.json"},                                             // responseElements null before Dec 2022, keyId after
	4:  {"records/disablekey-notfound.json", "records/creategrant-dryrun.json", "records/disablekey-accessdenied.json"}, // failed calls
	5:  {"records/putkeypolicy.json"},                                                                                   // policy as a JSON string
	6:  {"records/disablekey-console.json", "records/retiregrant-service.json", "records/deleteexpiredkeymaterial.json", "records/deletealias-2014.json"},
	7:  {"records/creategrant.json"},      // invokedBy, service name as source IP
	8:  {"records/creategrant-2014.json"}, // principal-id grantee
	9:  {"records/creategrant.json"},      // camelCase constraints
	10: {"records/disablekey-console.json", "records/creategrant.json"},
	11: {"records/disablekey-2021.json", "records/cancelkeydeletion.json", "records/deletealias-2014.json"},
	12: {"records/disablekey-console.json", "records/deleteimportedkeymaterial.json"},
	13: {"records/disablekey-2021.json", "records/createalias.json", "records/updatealias.json", "records/deletealias-2014.json", "records/schedulekeydeletion-resources-null.json", "records/retiregrant-service.json"},
	14: {"records/retiregrant.json", "records/schedulekeydeletion-cks.json", "records/decrypt.json"},
	15: {"records/schedulekeydeletion.json", "records/schedulekeydeletion-resources-null.json", "records/schedulekeydeletion-cks.json", "records/schedulekeydeletion-mrk.json", "records/importkeymaterial.json", "records/createkey.json"},
	16: {"records/deletekey.json", "records/rotatekey.json", "eventbridge/deletekey.json"},
	17: {"records/creategrant.json", "records/schedulekeydeletion-resources-null.json", "records/decrypt.json", "records/retiregrant-service.json"},
	18: {"eventbridge/putkeypolicy.json", "eventbridge/kms-cmk-rotation.json", "eventbridge/kms-cmk-deletion-noresources.json", "logs/mixed.json"},
	19: {"records/disablekey-synthetic-ids.json", "records/retiregrant-placeholders.json"},
	20: {"bad/placebo-describekey.json"}, // a KMS API response is not an event: a clear error
}

func TestQuirksCovered(t *testing.T) {
	for q := 1; q <= 20; q++ {
		files := quirks[q]
		if len(files) == 0 {
			t.Errorf("quirk %d has no fixture", q)
		}
		for _, f := range files {
			if _, err := os.Stat(filepath.Join("testdata", f)); err != nil {
				t.Errorf("quirk %d: %v", q, err)
			}
		}
	}
}
