// Package securityhub exports the problems fsxkms tracks in its alert state
// to AWS Security Hub, as findings in the AWS Security Finding Format (ASFF)
// 2018-10-08, imported with BatchImportFindings.
//
// Each problem, the state table's identity (a key ARN and a finding ID such
// as "REQUIRED_PERMISSION_DENIED#kms:Decrypt"), is one finding with a stable
// Id, fsxkms/<region>/<account>/<key id>/<code>[/<qualifier>]. While the
// problem is open it is imported ACTIVE, Compliance FAILED (WARNING when
// fsxkms cannot decide), again at every judgement of its key with a later
// UpdatedAt, so that the sweep keeps it from expiring; when the state says
// it is over, the same Id is imported ARCHIVED, PASSED. What is open comes
// from fsxkms's own state, never from reading findings back (GetFindings
// is eventually consistent).
//
// Findings maps a judged key to ASFF documents and is pure; Exporter
// batches them (at most 100 per call), retries refused ones and says once
// per account when Security Hub is not enabled there.
package securityhub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/finding"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// SchemaVersion is the ASFF version fsxkms writes.
const SchemaVersion = "2018-10-08"

// Limits of ASFF fields (Security Hub user guide and API reference). Text
// is bounded in bytes, which never exceeds the character count.
const (
	MaxTitle       = 256
	MaxDescription = 1024
	MaxRemedy      = 512
	MaxResources   = 32
	// maxOther bounds a Details.Other or ProductFields value (fewer than
	// 1,024 characters).
	maxOther = 1000
	// maxName bounds the key's name (an alias) in a title.
	maxName = 100
)

// Finding is one ASFF finding as fsxkms writes it: the attributes it sets,
// with their ASFF names.
type Finding struct {
	SchemaVersion         string                `json:"SchemaVersion"`
	ID                    string                `json:"Id"`
	ProductArn            string                `json:"ProductArn"`
	ProductName           string                `json:"ProductName"`
	CompanyName           string                `json:"CompanyName"`
	GeneratorID           string                `json:"GeneratorId"`
	AwsAccountID          string                `json:"AwsAccountId"`
	Region                string                `json:"Region"`
	Types                 []string              `json:"Types"`
	CreatedAt             string                `json:"CreatedAt"`
	UpdatedAt             string                `json:"UpdatedAt"`
	FirstObservedAt       string                `json:"FirstObservedAt"`
	LastObservedAt        string                `json:"LastObservedAt"`
	Severity              Severity              `json:"Severity"`
	Title                 string                `json:"Title"`
	Description           string                `json:"Description"`
	Remediation           *Remediation          `json:"Remediation,omitempty"`
	ProductFields         map[string]string     `json:"ProductFields"`
	Resources             []Resource            `json:"Resources"`
	Compliance            Compliance            `json:"Compliance"`
	Workflow              *Workflow             `json:"Workflow,omitempty"`
	RecordState           string                `json:"RecordState"`
	FindingProviderFields FindingProviderFields `json:"FindingProviderFields"`
}

// Severity is the finding's severity: Label one of INFORMATIONAL, LOW,
// MEDIUM, HIGH, CRITICAL; Original fsxkms's own (CRITICAL, WARNING, INFO).
type Severity struct {
	Label    string `json:"Label"`
	Original string `json:"Original"`
}

// Remediation says how to fix it.
type Remediation struct {
	Recommendation Recommendation `json:"Recommendation"`
}

// Recommendation is the fix in words and where to read more.
type Recommendation struct {
	Text string `json:"Text"`
	URL  string `json:"Url"`
}

// Resource is the key (AwsKmsKey) or an FSx resource at risk (Other).
type Resource struct {
	Type      string           `json:"Type"`
	ID        string           `json:"Id"`
	Partition string           `json:"Partition,omitempty"`
	Region    string           `json:"Region,omitempty"`
	Details   *ResourceDetails `json:"Details,omitempty"`
}

// ResourceDetails are a resource's details.
type ResourceDetails struct {
	AwsKmsKey *KmsKeyDetails    `json:"AwsKmsKey,omitempty"`
	Other     map[string]string `json:"Other,omitempty"`
}

// KmsKeyDetails are the key's, as KMS describes it now.
type KmsKeyDetails struct {
	AWSAccountID string `json:"AWSAccountId,omitempty"`
	KeyID        string `json:"KeyId,omitempty"`
	KeyManager   string `json:"KeyManager,omitempty"`
	KeyState     string `json:"KeyState,omitempty"`
	Origin       string `json:"Origin,omitempty"`
}

// Compliance is FAILED, WARNING (undecided) or PASSED (over).
type Compliance struct {
	Status string `json:"Status"`
}

// Workflow is the customer's: fsxkms sets NEW on an open finding, which
// Security Hub takes only when it creates the finding.
type Workflow struct {
	Status string `json:"Status"`
}

// FindingProviderFields repeat the severity and types where Security Hub
// wants a finding provider to give them.
type FindingProviderFields struct {
	Severity Severity `json:"Severity"`
	Types    []string `json:"Types"`
}

// Compliance statuses, record states and severity labels fsxkms uses.
const (
	Failed   = "FAILED"
	Warning  = "WARNING"
	Passed   = "PASSED"
	Active   = "ACTIVE"
	Archived = "ARCHIVED"

	LabelCritical      = "CRITICAL"
	LabelMedium        = "MEDIUM"
	LabelInformational = "INFORMATIONAL"
)

// Product is who imports the findings: the account and Region whose
// Security Hub receives them (the caller's; the default product ARN needs
// the finding's AwsAccountId to be the caller's account).
type Product struct {
	Partition, Region, Account string
}

// ARN is the account's default product ARN.
func (p Product) ARN() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", p.Partition, p.Region, p.Account, p.Account)
}

// Judged is one judged key as the exporter sees it: monitor.Tracked.
type Judged struct {
	// Report is the check's report on the key now.
	Report check.Report
	// Open are the problems open on the key after the judgement.
	Open []Open
	// Closed are the problems the judgement closed (resolved, or
	// superseded by the key's deletion).
	Closed []state.Item
	// Now is when the key was judged: the findings' UpdatedAt.
	Now time.Time
}

// Open is an open problem: its state identity, first sighting and finding.
type Open struct {
	ID        string
	FirstSeen time.Time
	Finding   check.Finding
}

// timeFormat is how ASFF timestamps are written: RFC 3339, milliseconds, UTC.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func stamp(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(timeFormat) }

// FindingID is the Security Hub Id of a problem: fsxkms/<region>/<account>/
// <key id>/<code>[/<qualifier>], from the key ARN and the state identity
// ("<code>#<qualifier>"). A qualifier with characters outside letters,
// digits and : . _ / @ + = , # - (outside text: a grant or event id) is
// replaced by its SHA-256, so the Id stays stable and plain.
func FindingID(keyARN, stateID string) string {
	region, account, keyID := "unknown", "unknown", "unknown"
	if a, err := arn.Parse(keyARN); err == nil {
		region, account = a.Region, a.AccountID
		keyID = strings.TrimPrefix(a.Resource, "key/")
	}
	if !plainID.MatchString(region + account + keyID) {
		sum := sha256.Sum256([]byte(keyARN))
		region, account, keyID = "unknown", "unknown", "sha256:"+hex.EncodeToString(sum[:])
	}
	code, q, _ := strings.Cut(stateID, "#")
	if !plainID.MatchString(code) {
		code = "UNKNOWN"
	}
	id := "fsxkms/" + region + "/" + account + "/" + keyID + "/" + code
	if q != "" {
		if !plainID.MatchString(q) || len(q) > 256 {
			sum := sha256.Sum256([]byte(q))
			q = "sha256:" + hex.EncodeToString(sum[:])
		}
		id += "/" + q
	}
	return id
}

var plainID = regexp.MustCompile(`^[A-Za-z0-9:._/@+=,#-]*$`)

// Findings maps a judged key to its findings: one ACTIVE per open problem
// (FAILED, or WARNING when the finding is undecided) and one ARCHIVED,
// PASSED per closed one. UpdatedAt is the judgement's time; the Exporter
// makes it later than its previous import of the same Id.
func Findings(p Product, j Judged) []Finding {
	rep := j.Report
	var out []Finding
	for _, o := range j.Open {
		f := o.Finding
		first := o.FirstSeen
		if first.IsZero() || first.After(j.Now) {
			first = j.Now
		}
		x := base(p, rep, o.ID, f.Code, f.Action, first, j.Now)
		x.Severity = Severity{Label: label(f.Severity), Original: string(f.Severity)}
		x.Description = alert.Plain(f.Message, MaxDescription)
		k := kindOf(f.Code)
		region := rep.Key.Region
		if a, err := arn.Parse(rep.Key.ARN); err == nil && region == "" {
			region = a.Region
		}
		x.Remediation = &Remediation{Recommendation: Recommendation{
			Text: alert.Plain(fmt.Sprintf(k.remedy, rep.Key.ARN, region, f.Action), MaxRemedy),
			URL:  f.Code.Reference(),
		}}
		x.Compliance.Status = Failed
		if f.Undecided {
			x.Compliance.Status = Warning
		}
		x.Workflow = &Workflow{Status: "NEW"}
		x.RecordState = Active
		x.LastObservedAt = stamp(j.Now)
		for k, v := range map[string]string{"fsxkms/action": f.Action, "fsxkms/decision": f.Decision, "fsxkms/principal": f.Principal} {
			if v != "" {
				x.ProductFields[k] = alert.Plain(v, maxOther)
			}
		}
		if len(f.Statements) > 0 {
			st := make([]string, len(f.Statements))
			for i, s := range f.Statements {
				st[i] = alert.Plain(s, maxOther)
			}
			x.ProductFields["fsxkms/statements"] = alert.Plain(strings.Join(st, ", "), maxOther)
		}
		if t := rep.Trigger; t != nil && t.EventName != "" {
			x.ProductFields["fsxkms/event"] = alert.Plain(t.EventName, maxOther)
		}
		x.FindingProviderFields.Severity = x.Severity
		out = append(out, x)
	}
	deleted := false
	for _, f := range rep.Findings {
		deleted = deleted || f.Code == finding.KeyNotFound
	}
	for _, it := range j.Closed {
		first := it.FirstSeen
		if first.IsZero() || first.After(j.Now) {
			first = j.Now
		}
		x := base(p, rep, it.ID, finding.Code(it.Code), actionOf(it.ID), first, j.Now)
		x.Severity = Severity{Label: LabelInformational, Original: it.Severity}
		if x.Severity.Original == "" {
			x.Severity.Original = "INFO"
		}
		why := "Resolved: fsxkms no longer finds this problem"
		if deleted && finding.Code(it.Code) != finding.KeyNotFound {
			why = "Superseded: the key no longer exists (its KEY_NOT_FOUND finding says so)"
		}
		x.Description = alert.Plain(fmt.Sprintf("%s (open %s, from %s to %s). It said: %s", why,
			state.Lasted(j.Now.Sub(first)), stamp(first), stamp(j.Now), it.Message), MaxDescription)
		x.Compliance.Status = Passed
		x.RecordState = Archived
		if !it.LastSeen.IsZero() {
			x.LastObservedAt = stamp(it.LastSeen)
		}
		x.FindingProviderFields.Severity = x.Severity
		out = append(out, x)
	}
	return out
}

// base is what an open and a closed finding share.
func base(p Product, rep check.Report, stateID string, code finding.Code, action string, first, now time.Time) Finding {
	k := kindOf(code)
	types := []string{TypePrefix + string(k.family)}
	x := Finding{
		SchemaVersion:   SchemaVersion,
		ID:              FindingID(rep.Key.ARN, stateID),
		ProductArn:      p.ARN(),
		ProductName:     "fsxkms",
		CompanyName:     "fsxkms",
		GeneratorID:     "fsxkms/" + alert.Plain(string(code), 64),
		AwsAccountID:    p.Account,
		Region:          p.Region,
		Types:           types,
		CreatedAt:       stamp(first),
		UpdatedAt:       stamp(now),
		FirstObservedAt: stamp(first),
		LastObservedAt:  stamp(now),
		Title:           title(rep, code, k, action),
		ProductFields: map[string]string{
			"fsxkms/code":    alert.Plain(string(code), maxOther),
			"fsxkms/finding": alert.Plain(stateID, maxOther),
		},
		Resources:             resources(rep, p),
		FindingProviderFields: FindingProviderFields{Types: types},
	}
	if rep.Key.State != "" {
		x.ProductFields["fsxkms/keyState"] = alert.Plain(rep.Key.State, maxOther)
	}
	x.ProductFields["fsxkms/fsxResourcesAtRisk"] = strconv.Itoa(len(rep.Resources))
	if n := len(rep.Resources); n > MaxResources-1 {
		x.ProductFields["fsxkms/fsxResourcesListed"] = strconv.Itoa(MaxResources - 1)
	}
	return x
}

// title is "KMS key <alias or id> <the code's title>[ (<permission>)]".
func title(rep check.Report, code finding.Code, k kind, action string) string {
	name := rep.Key.ID
	if len(rep.Aliases) > 0 && rep.Aliases[0] != "" {
		name = rep.Aliases[0]
	}
	if name == "" {
		if a, err := arn.Parse(rep.Key.ARN); err == nil {
			name = strings.TrimPrefix(a.Resource, "key/")
		}
	}
	t := "KMS key " + alert.Plain(name, maxName) + " " + code.Title()
	if action != "" && k.family == FamilyPolicy {
		t += " (" + alert.Plain(action, 64) + ")"
	}
	return alert.Plain(t, MaxTitle)
}

// actionOf is the permission a state identity names, e.g. kms:Decrypt in
// "REQUIRED_PERMISSION_DENIED#kms:Decrypt#<principal>".
func actionOf(stateID string) string {
	parts := strings.Split(stateID, "#")
	if len(parts) > 1 && strings.HasPrefix(parts[1], "kms:") {
		return parts[1]
	}
	return ""
}

// label is the ASFF severity label of an fsxkms severity.
func label(sev finding.Severity) string {
	switch sev {
	case check.Critical:
		return LabelCritical
	case check.Warning:
		return LabelMedium
	}
	return LabelInformational
}

// resources are the key and, after it, up to MaxResources-1 FSx resources
// at risk (by type and id), each as Other with its ARN.
func resources(rep check.Report, p Product) []Resource {
	k := rep.Key
	key := Resource{Type: "AwsKmsKey", ID: alert.Plain(k.ARN, 2048), Partition: p.Partition, Region: k.Region}
	if a, err := arn.Parse(k.ARN); err == nil {
		key.Partition = a.Partition
		if key.Region == "" {
			key.Region = a.Region
		}
	}
	d := &KmsKeyDetails{AWSAccountID: k.Account, KeyID: k.ID, KeyManager: k.Manager, KeyState: k.State, Origin: k.Origin}
	for _, s := range []*string{&d.AWSAccountID, &d.KeyID, &d.KeyManager, &d.KeyState, &d.Origin} {
		*s = alert.Plain(*s, 256)
	}
	if *d != (KmsKeyDetails{}) {
		key.Details = &ResourceDetails{AwsKmsKey: d}
	}
	out := []Resource{key}
	rs := append([]check.Resource(nil), rep.Resources...)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Type != rs[j].Type {
			return rs[i].Type < rs[j].Type
		}
		return rs[i].ID < rs[j].ID
	})
	for _, r := range rs {
		if len(out) == MaxResources {
			break
		}
		id := r.ARN
		if id == "" {
			id = r.ID
		}
		other := map[string]string{"fsxType": r.Type, "fsxId": r.ID}
		for k, v := range map[string]string{"fileSystemType": r.FileSystemType, "lifecycle": r.Lifecycle, "ownerId": r.OwnerID} {
			if v != "" {
				other[k] = v
			}
		}
		for k, v := range other {
			other[k] = alert.Plain(v, maxOther)
		}
		res := Resource{Type: "Other", ID: alert.Plain(id, 2048), Region: r.Region, Details: &ResourceDetails{Other: other}}
		if a, err := arn.Parse(r.ARN); err == nil {
			res.Partition = a.Partition
			if res.Region == "" {
				res.Region = a.Region
			}
		}
		res.Region = alert.Plain(res.Region, 64)
		out = append(out, res)
	}
	return out
}
