package kmsevent

import (
	"slices"
	"strings"
	"testing"
)

// TestRelevantEventNames checks the names the EventBridge rule is built from.
func TestRelevantEventNames(t *testing.T) {
	names := RelevantEventNames()
	if !slices.IsSorted(names) {
		t.Errorf("RelevantEventNames() is not sorted: %q", names)
	}
	// The names issue 4 requires, at least.
	for _, want := range []string{
		"PutKeyPolicy", "DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "RevokeGrant",
		"RetireGrant", "CreateGrant", "DeleteImportedKeyMaterial", "ImportKeyMaterial", "DeleteExpiredKeyMaterial",
		"DisconnectCustomKeyStore", "ConnectCustomKeyStore", "UpdatePrimaryRegion", "DeleteKey", "CreateAlias",
		"UpdateAlias", "DeleteAlias", "DisableKeyRotation", "EnableKeyRotation",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("RelevantEventNames() lacks %s", want)
		}
	}
	for _, name := range names {
		if strings.Contains(name, " ") {
			t.Errorf("RelevantEventNames() contains the native detail-type %q", name)
		}
		if r := rules[name].relevance; r == Ignored || r == "" {
			t.Errorf("%s is in RelevantEventNames() but its relevance is %q", name, r)
		}
	}
	if len(names)+len(NativeDetailTypes()) != len(rules) {
		t.Errorf("%d event names + %d native types != %d rules", len(names), len(NativeDetailTypes()), len(rules))
	}
}

func TestNativeDetailTypes(t *testing.T) {
	want := []string{"KMS CMK Deletion", "KMS CMK Rotation", "KMS Imported Key Material Expiration"}
	got := NativeDetailTypes()
	if !slices.Equal(got, want) {
		t.Errorf("NativeDetailTypes() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if NativeDetailTypes()[0] != want[0] {
		t.Error("NativeDetailTypes() returns the package's own slice")
	}
	for _, name := range want {
		if _, ok := rules[name]; !ok {
			t.Errorf("%s has no rule", name)
		}
	}
}

// TestClassify covers the outcomes of failed calls.
func TestClassify(t *testing.T) {
	tests := []struct {
		name, errorCode string
		want            Relevance
	}{
		{"DisableKey", "", Breaking},
		{"DisableKey", "AccessDenied", Attempted},
		{"DisableKey", "AccessDeniedException", Attempted},
		{"PutKeyPolicy", "UnauthorizedOperation", Attempted},
		{"DisableKey", "NotFoundException", Ignored},
		{"DisableKey", "KMSInvalidStateException", Ignored},
		{"EnableKey", "AccessDeniedException", Attempted},
		{"CreateGrant", "DryRunOperationException", Ignored},
		{"CreateAlias", "", Notable},
		{"CreateAlias", "AccessDeniedException", Ignored},
		{"Decrypt", "", Ignored},
		{"Decrypt", "AccessDeniedException", Ignored},
		{"KMS CMK Deletion", "", Breaking},
	}
	for _, tt := range tests {
		e := Event{EventName: tt.name, Failed: tt.errorCode != "", ErrorCode: tt.errorCode}
		classify(&e)
		if e.Relevance != tt.want || e.Reason == "" {
			t.Errorf("classify(%s, %q) = %q, %q; want %q with a reason", tt.name, tt.errorCode, e.Relevance, e.Reason, tt.want)
		}
		if tt.errorCode != "" && !strings.Contains(e.Reason, tt.errorCode) && rules[tt.name].relevance != "" {
			t.Errorf("classify(%s, %q): reason %q does not cite the error", tt.name, tt.errorCode, e.Reason)
		}
	}
}
