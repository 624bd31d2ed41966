package securityhub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fsxkms/fsxkms/internal/testutil"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/finding"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

const (
	keyARN  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	account = "111122223333"
)

var (
	product = Product{Partition: "aws", Region: "us-east-1", Account: account}
	t0      = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
)

func key(state string) check.Key {
	return check.Key{ARN: keyARN, ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: account, Region: "us-east-1",
		State: state, Manager: "CUSTOMER", Spec: "SYMMETRIC_DEFAULT", Origin: "AWS_KMS"}
}

func fsxResources(n int) []check.Resource {
	var rs []check.Resource
	for i := range n {
		id := fmt.Sprintf("fs-0a1b2c3d4e5f6%04d", i)
		typ, kind := "WINDOWS", check.ResourceFileSystem
		if i%2 == 1 {
			id, typ, kind = fmt.Sprintf("backup-0a1b2c3d4e5f6%04d", i), "WINDOWS", check.ResourceBackup
		}
		rs = append(rs, check.Resource{Type: kind, ID: id, ARN: "arn:aws:fsx:us-east-1:111122223333:" + map[string]string{check.ResourceFileSystem: "file-system/", check.ResourceBackup: "backup/"}[kind] + id,
			FileSystemType: typ, Lifecycle: "AVAILABLE", OwnerID: account, Region: "us-east-1"})
	}
	return rs
}

// policyWithSid is the deny-decrypt policy with a crafted Sid on the Deny:
// a line break, a URL and a right-to-left override.
func policyWithSid(t *testing.T, sid string) string {
	t.Helper()
	b, err := os.ReadFile("../policy/testdata/break-deny-decrypt.json")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(sid)
	return strings.Replace(string(b), `"DenyDecryptViaFSx"`, string(js), 1)
}

// opened turns a report's findings into open problems with identities as
// the monitor makes them, first seen at first.
func opened(rep check.Report, first time.Time, ids ...string) []Open {
	var out []Open
	for i, f := range rep.Findings {
		out = append(out, Open{ID: ids[i], FirstSeen: first, Finding: f})
	}
	return out
}

// goldenCase is a judged key of one finding code family.
type goldenCase struct {
	name   string
	family Family
	judged func(t *testing.T) Judged
}

var goldenCases = []goldenCase{
	{"state", FamilyState, func(t *testing.T) Judged {
		rep := check.Check(check.Input{Key: key("Disabled"), Aliases: []string{"alias/fsx-prod"}, Resources: fsxResources(3), Now: t0})
		return Judged{Report: rep, Open: opened(rep, t0.Add(-2*time.Hour), "KEY_DISABLED"), Now: t0}
	}},
	{"policy", FamilyPolicy, func(t *testing.T) Judged {
		rep := check.Check(check.Input{Key: key("Enabled"), Aliases: []string{"alias/fsx\u202eprod"},
			Policy: policyWithSid(t, "Deny\nhttps://evil.example/fix run: aws kms schedule-key-deletion"), Resources: fsxResources(2), Now: t0})
		var ids []string
		for _, f := range rep.Findings {
			ids = append(ids, string(f.Code)+"#"+f.Action)
		}
		return Judged{Report: rep, Open: opened(rep, t0, ids...), Now: t0}
	}},
	{"grants", FamilyGrants, func(t *testing.T) Judged {
		rep := check.Check(check.Input{Key: key("Enabled"), Aliases: []string{"alias/fsx-prod"}, Resources: fsxResources(2), GrantsRead: true, Now: t0,
			Trigger: &check.Trigger{EventName: "RevokeGrant", Relevance: kmsevent.Breaking, Actor: "arn:aws:sts::111122223333:assumed-role/Admin/alice",
				ActorType: "AssumedRole", GrantID: "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"}})
		return Judged{Report: rep, Open: opened(rep, t0, "GRANT_REVOKED#grant:0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"), Now: t0}
	}},
	{"monitor", FamilyMonitor, func(t *testing.T) Judged {
		rep := check.Check(check.Input{Key: key("Enabled"), Resources: fsxResources(1), GrantsRead: true, Now: t0,
			Errors: []check.ReadError{{Call: "kms:GetKeyPolicy", Kind: check.AccessDenied, Message: "User: arn:aws:sts::111122223333:assumed-role/fsxkms/x is not authorized"}}})
		return Judged{Report: rep, Open: opened(rep, t0.Add(-time.Minute), "MONITOR_ACCESS_DENIED#kms:GetKeyPolicy"), Now: t0}
	}},
	{"resolved", FamilyState, func(t *testing.T) Judged {
		rep := check.Check(check.Input{Key: key("Enabled"), Aliases: []string{"alias/fsx-prod"}, Resources: fsxResources(3), GrantsRead: true, Now: t0,
			Policy: mustRead(t, "../check/testdata/fsx-key-policy.json")})
		return Judged{Report: rep, Now: t0, Closed: []state.Item{{
			Key: keyARN, ID: "KEY_DISABLED", Status: state.Open, Code: "KEY_DISABLED", Severity: "CRITICAL",
			Message:  "Key " + keyARN + " is disabled. FSx cannot decrypt or create grants with it.",
			OpenedBy: "DisableKey 83e67d81", FirstSeen: t0.Add(-26*time.Hour - 13*time.Minute), LastSeen: t0.Add(-time.Hour), NotifyCount: 2,
		}}}
	}},
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGolden: the ASFF documents of one judged key per finding code
// family, as testdata/<family>.asff.json, each valid as Security Hub
// requires; the state one is also the README's sample
// (docs/securityhub-finding.json).
func TestGolden(t *testing.T) {
	seen := map[Family]bool{}
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			j := c.judged(t)
			fs := Findings(product, j)
			if len(fs) == 0 {
				t.Fatal("no finding")
			}
			for _, f := range fs {
				for _, p := range Validate(f) {
					t.Error(p)
				}
				if got := strings.TrimPrefix(f.Types[0], TypePrefix); Family(got) != c.family {
					t.Errorf("%s: Types %q, want the %s family", f.ID, f.Types, c.family)
				}
				seen[c.family] = true
			}
			b, err := json.MarshalIndent(fs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, "testdata/"+c.name+".asff.json", append(b, '\n'))
			if c.name == "state" {
				one, _ := json.MarshalIndent(fs[0], "", "  ")
				testutil.Golden(t, "../../docs/securityhub-finding.json", append(one, '\n'))
			}
		})
	}
	for _, f := range []Family{FamilyState, FamilyPolicy, FamilyGrants, FamilyMonitor} {
		if !seen[f] {
			t.Errorf("no golden case of family %s", f)
		}
	}
}

// Validate returns what Security Hub would refuse in f, and what fsxkms
// promises besides: the required attributes (asff-required-attributes),
// the field limits, one line of escaped text in Title and Description, a
// stable Id, UpdatedAt not before CreatedAt, at most 240 KB.
func Validate(f Finding) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, f.ID+": "+fmt.Sprintf(format, args...)) }
	for name, v := range map[string]string{"SchemaVersion": f.SchemaVersion, "Id": f.ID, "ProductArn": f.ProductArn, "GeneratorId": f.GeneratorID,
		"AwsAccountId": f.AwsAccountID, "CreatedAt": f.CreatedAt, "UpdatedAt": f.UpdatedAt, "Severity.Label": f.Severity.Label,
		"Title": f.Title, "Description": f.Description} {
		if v == "" {
			bad("required %s is empty", name)
		}
	}
	if f.SchemaVersion != "2018-10-08" {
		bad("SchemaVersion %q", f.SchemaVersion)
	}
	if !regexp.MustCompile(`^fsxkms/[a-z0-9-]+/[0-9]{12}/[A-Za-z0-9-]+/[A-Z_]+(/[A-Za-z0-9:._/@+=,#-]+)?$`).MatchString(f.ID) || len(f.ID) > 512 {
		bad("Id is not fsxkms/<region>/<account>/<key id>/<code>[/<qualifier>] of at most 512 characters")
	}
	if f.ProductArn != "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default" || f.AwsAccountID != account {
		bad("ProductArn %s, AwsAccountId %s: want the caller's default product", f.ProductArn, f.AwsAccountID)
	}
	if len(f.Types) == 0 || !strings.HasPrefix(f.Types[0], "Software and Configuration Checks/") || strings.Count(f.Types[0], "/") != 2 {
		bad("Types %q, want namespace/category/classifier under Software and Configuration Checks", f.Types)
	}
	if !slices.Contains([]string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}, f.Severity.Label) {
		bad("Severity.Label %q", f.Severity.Label)
	}
	created, err1 := time.Parse(time.RFC3339Nano, f.CreatedAt)
	updated, err2 := time.Parse(time.RFC3339Nano, f.UpdatedAt)
	if err1 != nil || err2 != nil || updated.Before(created) {
		bad("CreatedAt %s, UpdatedAt %s: want ISO 8601, UpdatedAt not before CreatedAt", f.CreatedAt, f.UpdatedAt)
	}
	for name, s := range map[string]string{"Title": f.Title, "Description": f.Description} {
		for _, r := range s {
			if r != ' ' && (!unicode.IsGraphic(r) || unicode.Is(unicode.Zs, r)) {
				bad("%s holds %U: outside text must be escaped", name, r)
				break
			}
		}
		if strings.Contains(s, "://") {
			bad("%s holds a URL that is not defanged", name)
		}
	}
	if n := utf8.RuneCountInString(f.Title); n > MaxTitle {
		bad("Title has %d characters", n)
	}
	if n := utf8.RuneCountInString(f.Description); n > MaxDescription {
		bad("Description has %d characters", n)
	}
	if r := f.Remediation; r != nil && (utf8.RuneCountInString(r.Recommendation.Text) > MaxRemedy || !strings.HasPrefix(r.Recommendation.URL, finding.ReferenceURL+"#")) {
		bad("Remediation text over %d characters or URL %q not in the findings reference", MaxRemedy, r.Recommendation.URL)
	}
	if n := len(f.Resources); n == 0 || n > MaxResources || f.Resources[0].Type != "AwsKmsKey" {
		bad("%d Resources, want 1 to %d, the key first", n, MaxResources)
	}
	for i, r := range f.Resources {
		if r.ID == "" || r.Type == "" || i > 0 && (r.Type != "Other" || !strings.HasPrefix(r.ID, "arn:aws:fsx:")) {
			bad("Resources[%d] %s %q: want the key, then FSx resources as Other with their ARN", i, r.Type, r.ID)
		}
	}
	switch {
	case f.RecordState == Active && (f.Compliance.Status != Failed && f.Compliance.Status != Warning || f.Workflow == nil || f.Workflow.Status != "NEW"):
		bad("ACTIVE with Compliance %s, Workflow %v: want FAILED or WARNING, NEW", f.Compliance.Status, f.Workflow)
	case f.RecordState == Archived && (f.Compliance.Status != Passed || f.Workflow != nil):
		bad("ARCHIVED with Compliance %s: want PASSED, and no Workflow (the customer's)", f.Compliance.Status)
	case f.RecordState != Active && f.RecordState != Archived:
		bad("RecordState %q", f.RecordState)
	}
	if len(f.ProductFields) > 50 {
		bad("%d ProductFields", len(f.ProductFields))
	}
	if b, _ := json.Marshal(f); len(b) > 240*1024 {
		bad("%d bytes, over 240 KB", len(b))
	}
	return out
}

// TestKinds: every code the check returns has a row, and a finding
// reference section to point at.
func TestKinds(t *testing.T) {
	for _, c := range finding.Codes() {
		switch c {
		case finding.Restored, finding.Resolved, finding.SweepSummary, finding.AlertTruncated:
			if _, ok := kinds[c]; ok {
				t.Errorf("%s has a row, but is no problem", c)
			}
			continue
		}
		k, ok := kinds[c]
		if !ok {
			t.Errorf("%s has no row in kinds", c)
			continue
		}
		if n := len(fmt.Sprintf(k.remedy, keyARN, "us-east-1", "kms:GenerateDataKeyWithoutPlaintext")); n > MaxRemedy {
			t.Errorf("%s: remediation of %d bytes, over %d", c, n, MaxRemedy)
		}
	}
	doc := mustRead(t, "../../docs/findings.md")
	for c := range kinds {
		if !strings.Contains(doc, "\n## "+string(c)+"\n") {
			t.Errorf("%s: no section in docs/findings.md for its Remediation URL %s", c, c.Reference())
		}
	}
}

// TestHostile: a key with 500 FSx resources and outside text of any size
// stays within every bound.
func TestHostile(t *testing.T) {
	rep := check.Check(check.Input{Key: key("Enabled"), Aliases: []string{strings.Repeat("alias/\u202e\n", 200)},
		Policy: policyWithSid(t, strings.Repeat("Sid\u0000\u2028<script>", 3000)), Resources: fsxResources(500), Now: t0})
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, string(f.Code)+"#"+f.Action+"#"+strings.Repeat("\u202e", 300))
	}
	fs := Findings(product, Judged{Report: rep, Open: opened(rep, t0, ids...), Now: t0})
	if len(fs) == 0 {
		t.Fatal("no finding")
	}
	for _, f := range fs {
		for _, p := range Validate(f) {
			t.Error(p)
		}
		if f.ProductFields["fsxkms/fsxResourcesAtRisk"] != "500" || f.ProductFields["fsxkms/fsxResourcesListed"] != "31" {
			t.Errorf("ProductFields %v: want 500 at risk, 31 listed", f.ProductFields)
		}
		if !strings.Contains(f.ID, "/sha256:") {
			t.Errorf("Id %s: a qualifier of outside text must be hashed", f.ID)
		}
	}
}

// TestFindingIDStable: the Id is the state identity's, the same for an
// open problem and its closing.
func TestFindingIDStable(t *testing.T) {
	for _, c := range []struct{ state, want string }{
		{"KEY_DISABLED", "fsxkms/us-east-1/111122223333/1234abcd-12ab-34cd-56ef-1234567890ab/KEY_DISABLED"},
		{"REQUIRED_PERMISSION_DENIED#kms:Decrypt", "fsxkms/us-east-1/111122223333/1234abcd-12ab-34cd-56ef-1234567890ab/REQUIRED_PERMISSION_DENIED/kms:Decrypt"},
		{"REQUIRED_PERMISSION_DENIED#kms:Decrypt#arn:aws:iam::111122223333:role/FsxAdmin",
			"fsxkms/us-east-1/111122223333/1234abcd-12ab-34cd-56ef-1234567890ab/REQUIRED_PERMISSION_DENIED/kms:Decrypt#arn:aws:iam::111122223333:role/FsxAdmin"},
	} {
		if got := FindingID(keyARN, c.state); got != c.want {
			t.Errorf("FindingID(%s) = %s, want %s", c.state, got, c.want)
		}
	}
	rep := check.Check(check.Input{Key: key("Disabled"), Resources: fsxResources(1), Now: t0})
	open := Findings(product, Judged{Report: rep, Open: opened(rep, t0, "KEY_DISABLED"), Now: t0})
	closed := Findings(product, Judged{Report: rep, Now: t0.Add(time.Hour), Closed: []state.Item{{Key: keyARN, ID: "KEY_DISABLED", Code: "KEY_DISABLED", FirstSeen: t0}}})
	if open[0].ID != closed[0].ID || open[0].CreatedAt != closed[0].CreatedAt || !bytes.Equal([]byte(open[0].Title), []byte(closed[0].Title)) {
		t.Errorf("open %s %s %q, closed %s %s %q: want one Id, CreatedAt and title", open[0].ID, open[0].CreatedAt, open[0].Title, closed[0].ID, closed[0].CreatedAt, closed[0].Title)
	}
}
