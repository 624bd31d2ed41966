package check

import (
	"slices"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

// fsxGrant2 is a second grant that looks like FSx's, for the "one of two"
// cases.
var fsxGrant2 = Grant{ID: "g-fsx-2", Name: "FSx-backup-0a1b2c3d4e5f67890", GranteePrincipal: "fsx.us-east-1.amazonaws.com",
	Operations: []string{"Decrypt"}}

// TestGrantRemoval covers RevokeGrant and RetireGrant: FSx's own are
// routine, anyone else's is CRITICAL when no FSx grant is left on a key FSx
// uses and WARNING otherwise, and the fix names the right resource kind.
func TestGrantRemoval(t *testing.T) {
	const (
		person = "arn:aws:sts::111122223333:assumed-role/Admin/alice"
		fsxSP  = "fsx.amazonaws.com"
	)
	// byFSx is FSx's own call as CloudTrail records a service's call:
	// userIdentity.type and invokedBy, no ARN.
	byFSx := func(event, typ string) *Trigger {
		return &Trigger{EventName: event, Relevance: "breaking", Actor: fsxSP, ActorType: typ, InvokedBy: fsxSP, GrantID: "g-fsx-1"}
	}
	byPerson := func(event string) *Trigger {
		return &Trigger{EventName: event, Relevance: "breaking", Actor: person, ActorType: "AssumedRole", GrantID: "g-fsx-1"}
	}
	backupOnly := []Resource{{Type: ResourceBackup, ID: "backup-0a1b2c3d4e5f67890", FileSystemType: "ONTAP", Lifecycle: "AVAILABLE", OwnerID: "111122223333"}}
	cacheOnly := []Resource{{Type: ResourceFileCache, ID: "fc-0123456789abcdef0", FileSystemType: "LUSTRE", Lifecycle: "AVAILABLE", OwnerID: "111122223333"}}
	tests := []struct {
		name     string
		rule     string // the fact the case rests on
		edit     func(*Input)
		status   Status
		severity Severity
		codes    []finding.Code
		contains []string // substrings of the findings' text
		absent   []string // substrings the findings' text must not hold
	}{
		{
			name:   "FSx retires the last FSx grant (AWSService)",
			rule:   "AWS services that retire grants they made appear in CloudTrail as userIdentity.type AWSService with invokedBy the service's principal",
			edit:   func(in *Input) { in.Grants, in.Trigger = nil, byFSx("RetireGrant", "AWSService") },
			status: Compliant, codes: nil,
		},
		{
			name:   "FSx retires one of two FSx grants (AWSAccount)",
			rule:   "AWS account IDs specific to Amazon FSx appear in your AWS CloudTrail logs related to AWS KMS actions (FSx user guides, encryption at rest)",
			edit:   func(in *Input) { in.Grants, in.Trigger = []Grant{fsxGrant2}, byFSx("RetireGrant", "AWSAccount") },
			status: Compliant, codes: nil,
		},
		{
			name:   "FSx retires the last FSx grant (AWSAccount)",
			rule:   "as above: the account is FSx's, invokedBy says so",
			edit:   func(in *Input) { in.Grants, in.Trigger = nil, byFSx("RetireGrant", "AWSAccount") },
			status: Compliant, codes: nil,
		},
		{
			name: "FSx's Regional service principal retires its grant",
			rule: "the grant's retiring (service) principal may retire it (KMS API reference, RetireGrant)",
			edit: func(in *Input) {
				in.Grants = nil
				in.Trigger = &Trigger{EventName: "RetireGrant", Relevance: "breaking", Actor: "fsx.us-east-1.amazonaws.com", ActorType: "AWSService"}
			},
			status: Compliant, codes: nil,
		},
		{
			name: "FSx revokes a grant for a caller (forward access session)",
			rule: "invokedBy cannot be set by the caller: FSx made the call",
			edit: func(in *Input) {
				in.Grants = nil
				in.Trigger = &Trigger{EventName: "RevokeGrant", Relevance: "breaking", Actor: person, ActorType: "AssumedRole", InvokedBy: fsxSP}
			},
			status: Compliant, codes: nil,
		},
		{
			name:   "a person revokes the last FSx grant on a key FSx uses",
			rule:   "FSx reaches the key through its grants; with none left FSx loses the key",
			edit:   func(in *Input) { in.Grants, in.Trigger = nil, byPerson("RevokeGrant") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{person + " revoked grant g-fsx-1", "No grant that looks like FSx's remains on the key, and FSx still uses it",
				"Restrict kms:RevokeGrant", "describe-file-systems --region us-east-1 --file-system-ids fs-0123456789abcdef0",
				"describe-backups --region us-east-1 --backup-ids backup-0a1b2c3d4e5f67890"},
			absent: []string{"describe-file-caches"},
		},
		{
			name:   "a person revokes one of two FSx grants",
			rule:   "another grant that looks like FSx's remains",
			edit:   func(in *Input) { in.Grants, in.Trigger = []Grant{fsxGrant2}, byPerson("RevokeGrant") },
			status: Compliant, severity: Warning, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"1 grant(s) that look like FSx's remain: g-fsx-2"},
		},
		{
			name:   "a person retires the last FSx grant",
			rule:   "RetireGrant is authorised by the grant, not by kms:RevokeGrant (KMS developer guide, grant-delete)",
			edit:   func(in *Input) { in.Grants, in.Trigger = nil, byPerson("RetireGrant") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{person + " retired grant g-fsx-1", "find out why " + person + " retired it"},
			absent:   []string{"kms:RevokeGrant", "Restrict"},
		},
		{
			name:   "a person revokes the last grant on a backup-only key",
			rule:   "a backup's state is read with describe-backups",
			edit:   func(in *Input) { in.Resources, in.Grants, in.Trigger = backupOnly, nil, byPerson("RevokeGrant") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"aws fsx describe-backups --region us-east-1 --backup-ids backup-0a1b2c3d4e5f67890 --query 'Backups[].[BackupId,Lifecycle]'"},
			absent:   []string{"describe-file-systems", "describe-file-caches", "file system turns"},
		},
		{
			name:   "a person revokes the last grant on a File Cache's key",
			rule:   "a cache's state is read with describe-file-caches (FSx API reference, DescribeFileCaches)",
			edit:   func(in *Input) { in.Resources, in.Grants, in.Trigger = cacheOnly, nil, byPerson("RevokeGrant") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"aws fsx describe-file-caches --region us-east-1 --file-cache-ids fc-0123456789abcdef0 --query 'FileCaches[].[FileCacheId,Lifecycle]'",
				"reach the key for 1 FSx file cache."},
			absent: []string{"describe-file-systems", "describe-backups"},
		},
		{
			name:   "no FSx grant left, but FSx lists no resource on the key",
			rule:   "a key FSx no longer uses cannot cut FSx off",
			edit:   func(in *Input) { in.Resources, in.Grants, in.Trigger = nil, nil, byPerson("RevokeGrant") },
			status: Compliant, severity: Warning, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"FSx no longer lists a resource that uses it"},
		},
		{
			name: "no FSx grant left on a key listed in FSX_KEY_ARNS",
			rule: "FSX_KEY_ARNS names keys FSx uses whatever the inventory says",
			edit: func(in *Input) {
				in.Resources, in.Grants, in.KeyListed, in.Trigger = nil, nil, true, byPerson("RevokeGrant")
			},
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"listed in FSX_KEY_ARNS", "describe-file-systems --region us-east-1 --query \"FileSystems[?KmsKeyId=='" + keyARN + "']",
				"describe-backups", "describe-file-caches"},
		},
		{
			name: "another service retires with invokedBy AWS Internal",
			rule: "AWS Internal does not say which service: not known to be FSx",
			edit: func(in *Input) {
				in.Grants = nil
				in.Trigger = &Trigger{EventName: "RetireGrant", Relevance: "breaking", Actor: "AWS Internal", ActorType: "AWSService", InvokedBy: "AWS Internal"}
			},
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
		},
		{
			name: "a user named like FSx's service principal is not FSx",
			rule: "only invokedBy or an AWSService identity names a service",
			edit: func(in *Input) {
				in.Grants = nil
				in.Trigger = &Trigger{EventName: "RevokeGrant", Relevance: "breaking", Actor: "fsx.amazonaws.com", ActorType: "IAMUser"}
			},
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked},
		},
		{
			name: "a grant that names a known resource in its context counts as FSx's",
			rule: "constraints naming an FSx resource of the key mark the grant as FSx's",
			edit: func(in *Input) {
				in.Grants = []Grant{{ID: "g-ctx", GranteePrincipal: "arn:aws:iam::111122223333:role/Other",
					EncryptionContext: map[string]string{"aws:backup:source-resource": "fs-0123456789abcdef0"}}}
				in.Trigger = byPerson("RevokeGrant")
			},
			status: Compliant, severity: Warning, codes: []finding.Code{CodeGrantRevoked},
			contains: []string{"1 grant(s) that look like FSx's remain: g-ctx"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			tt.edit(&in)
			r := Check(in)
			codes, text := findingsOf(r)
			if !slices.Equal(codes, tt.codes) {
				t.Errorf("codes = %v, want %v (%s)\n%s", codes, tt.codes, tt.rule, text)
			}
			if r.Status != tt.status || r.Severity != tt.severity {
				t.Errorf("status %s severity %q, want %s %q (%s)", r.Status, r.Severity, tt.status, tt.severity, tt.rule)
			}
			mentions(t, "findings", text, tt.contains, tt.absent)
		})
	}
}

func TestByFSx(t *testing.T) {
	tests := []struct {
		t    Trigger
		want bool
	}{
		{Trigger{ActorType: "AWSService", InvokedBy: "fsx.amazonaws.com"}, true},
		{Trigger{ActorType: "AWSAccount", InvokedBy: "fsx.amazonaws.com"}, true},
		{Trigger{ActorType: "AWSService", InvokedBy: "FSX.AMAZONAWS.COM"}, true},
		{Trigger{ActorType: "AWSService", InvokedBy: "fsx.us-gov-west-1.amazonaws.com"}, true},
		{Trigger{ActorType: "AWSService", Actor: "fsx.eu-west-1.amazonaws.com"}, true},
		{Trigger{ActorType: "AWSService", InvokedBy: "fsx.amazonaws.com.example.com"}, false},
		{Trigger{ActorType: "AWSService", InvokedBy: "notfsx.amazonaws.com"}, false},
		{Trigger{ActorType: "AWSService", InvokedBy: "AWS Internal"}, false},
		{Trigger{ActorType: "AWSService", InvokedBy: "backup.amazonaws.com"}, false},
		{Trigger{ActorType: "IAMUser", Actor: "fsx.amazonaws.com"}, false},
		{Trigger{ActorType: "AssumedRole", Actor: "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAmazonFSx/fsx"}, false},
	}
	for _, tt := range tests {
		if got := tt.t.ByFSx(); got != tt.want {
			t.Errorf("%+v.ByFSx() = %v, want %v", tt.t, got, tt.want)
		}
	}
	if (*Trigger)(nil).ByFSx() || (*Trigger)(nil).FSxOwnGrantOperation() {
		t.Error("a nil trigger (a sweep) is by FSx")
	}
	failed := Trigger{EventName: "RetireGrant", InvokedBy: "fsx.amazonaws.com", Failed: true}
	if failed.FSxOwnGrantOperation() {
		t.Error("a failed RetireGrant counts as FSx's routine")
	}
	other := Trigger{EventName: "DisableKey", InvokedBy: "fsx.amazonaws.com"}
	if other.FSxOwnGrantOperation() {
		t.Error("DisableKey counts as a grant operation")
	}
}

// TestIsFSxGrantIDs: grants whose encryption context names an FSx resource
// id look like FSx's, unless the context key belongs to another service.
func TestIsFSxGrantIDs(t *testing.T) {
	ec := func(k, v string) Grant {
		return Grant{GranteePrincipal: "arn:aws:iam::111122223333:role/Other", EncryptionContext: map[string]string{k: v}}
	}
	tests := []struct {
		name string
		g    Grant
		want bool
	}{
		{"file system id", ec("FileSystemId", "fs-0123456789abcdef0"), true},
		{"backup id", ec("resource", "backup-0123456789abcdef0"), true},
		{"file cache id", ec("cache", "fc-0123456789abcdef0"), true},
		{"volume id", ec("volume", "fsvol-0123456789abcdef0"), true},
		{"EFS file system id", ec("aws:elasticfilesystem:filesystem:id", "fs-01234567"), false},
		{"EBS volume id", ec("aws:ebs:id", "vol-0123456789abcdef0"), false},
		{"too short to be an id", ec("x", "fs-0123"), false},
		{"not hex", ec("x", "fs-notanidatall"), false},
		{"nothing FSx about it", Grant{GranteePrincipal: "arn:aws:iam::111122223333:role/ebs", Name: "app"}, false},
	}
	for _, tt := range tests {
		if got := IsFSxGrant(tt.g); got != tt.want {
			t.Errorf("%s: IsFSxGrant(%+v) = %v, want %v", tt.name, tt.g, got, tt.want)
		}
	}
	// A resource of the key named in another service's context, or as the
	// SourceArn's resource, still counts: the id is known to be FSx's.
	rs := []Resource{{Type: ResourceFileSystem, ID: "fs-0123456789abcdef0"}}
	known := []Grant{
		ec("aws:backup:source-resource", "fs-0123456789abcdef0"),
		{GranteePrincipal: "backup.amazonaws.com", SourceARN: "arn:aws:backup:us-east-1:111122223333:resource/fs-0123456789abcdef0"},
		ec("aws:backup:source-resource", "fs-0fedcba9876543210"), // not on this key
	}
	if got := fsxGrants(known, rs); len(got) != 2 {
		t.Errorf("fsxGrants = %+v, want the two grants that name fs-0123456789abcdef0", got)
	}
}
