// Package check decides whether a KMS key still serves the Amazon FSx file
// systems and backups that depend on it.
//
// Check is pure: it takes a snapshot of the key as it is now (metadata,
// policy, grants, aliases), the FSx resources that use it and, optionally,
// the event that prompted the check, and returns a Report of findings. It
// makes no AWS calls and knows no AWS SDK types; adapters fill its inputs.
package check

import (
	"time"

	"github.com/fsxkms/fsxkms/pkg/finding"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// Severity ranks a finding: finding.Severity.
type Severity = finding.Severity

// Severities, from most to least urgent.
const (
	Critical = finding.Critical
	Warning  = finding.Warning
	Info     = finding.Info
)

// Status is the verdict on the key as a whole: finding.Status.
type Status = finding.Status

// Statuses of a report.
const (
	Noncompliant = finding.Noncompliant
	Compliant    = finding.Compliant
	Unknown      = finding.Unknown
)

// Key is what KMS says about a key now (DescribeKey).
type Key struct {
	ARN          string    // full key ARN
	ID           string    // key id (UUID or mrk-...)
	Account      string    // account that owns the key
	Region       string    // region of the key
	State        string    // KeyState: Enabled, Disabled, PendingDeletion, PendingReplicaDeletion, PendingImport, Unavailable, Creating, Updating
	Manager      string    // KeyManager: CUSTOMER or AWS
	Spec         string    // KeySpec, e.g. SYMMETRIC_DEFAULT
	Origin       string    // AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE
	DeletionDate time.Time // set while PendingDeletion
	ValidTo      time.Time // expiry of imported key material, if any
	KeyStoreID   string    // custom key store id, if any
	MultiRegion  bool      // whether the key is a multi-Region key
	// MultiRegionKeyType is PRIMARY or REPLICA for a multi-Region key.
	MultiRegionKeyType string
}

// Grant is one KMS grant on the key (ListGrants).
type Grant struct {
	ID                string
	Name              string
	GranteePrincipal  string
	RetiringPrincipal string
	Operations        []string
	// EncryptionContext holds the grant's encryption-context constraints
	// (EncryptionContextEquals and EncryptionContextSubset merged).
	EncryptionContext map[string]string
	// SourceARN is the grant's SourceArn constraint, if any (newer
	// service-principal grants name the resource they serve there).
	SourceARN string
}

// Resource types: the FSx resources that carry a KMS key (KmsKeyId in
// DescribeFileSystems, DescribeBackups and DescribeFileCaches).
const (
	ResourceFileSystem = "file-system"
	ResourceBackup     = "backup"
	ResourceFileCache  = "file-cache"
)

// Resource is an FSx file system, backup or Amazon File Cache that uses the
// key.
type Resource struct {
	Type           string // ResourceFileSystem, ResourceBackup or ResourceFileCache
	ID             string // fs-..., backup-..., fc-...
	ARN            string
	FileSystemType string // WINDOWS, LUSTRE, ONTAP, OPENZFS; a cache's FileCacheType (LUSTRE)
	Lifecycle      string
	OwnerID        string // account that owns the resource (kms:CallerAccount for FSx's requests)
	Region         string
}

// ReadError records a KMS read that failed while taking the snapshot.
type ReadError struct {
	Call string // e.g. "kms:GetKeyPolicy"
	// Kind classifies the failure: "AccessDenied", "NotFound" or "Error".
	Kind    string
	Message string
}

// Read error kinds.
const (
	AccessDenied = "AccessDenied"
	NotFound     = "NotFound"
	OtherError   = "Error"
)

// Trigger is the event that prompted the check, reduced to what the check
// needs. A sweep has no trigger.
type Trigger struct {
	EventName string
	// Relevance is the decoder's verdict: breaking, restoring, notable or
	// attempted.
	Relevance kmsevent.Relevance
	Actor     string // ARN or service of whoever made the call
	// ActorType is CloudTrail's userIdentity.type (IAMUser, AssumedRole,
	// AWSService, AWSAccount, ...).
	ActorType string
	// InvokedBy is userIdentity.invokedBy: the AWS service that made the
	// call, e.g. fsx.amazonaws.com (see ByFSx).
	InvokedBy string
	Failed    bool
	ErrorCode string
	GrantID   string // RevokeGrant, RetireGrant, CreateGrant
	// BypassPolicyLockoutSafetyCheck is set on a PutKeyPolicy that skipped
	// KMS's lockout safety check.
	BypassPolicyLockoutSafetyCheck bool
	// Policy is the policy text a PutKeyPolicy event carried: a hint only;
	// the check always judges the policy as read now.
	Policy string
}

// Input is everything Check needs.
type Input struct {
	Key       Key
	Policy    string   // the key policy as read now ("" if it could not be read)
	Grants    []Grant  // all grants on the key
	Aliases   []string // alias names, e.g. alias/fsx-prod
	Resources []Resource
	// Errors lists reads that failed; Check turns them into findings.
	Errors []ReadError
	// GrantsRead is false when ListGrants was not (or could not be) called.
	GrantsRead bool
	// KeyListed is true when the key is named in FSX_KEY_ARNS: FSx uses it
	// whatever the inventory says (a cross-account key, or FSx unreadable).
	KeyListed bool
	Trigger   *Trigger
	// Principals optionally narrows the policy check to the principals that
	// manage FSx; empty means "any principal of the owning account".
	Principals []string
	Now        time.Time
}

// Finding is one thing wrong (or restored) with the key.
type Finding struct {
	Code       finding.Code `json:"code"`
	Severity   Severity     `json:"severity"`
	Action     string       `json:"action,omitempty"`   // the KMS permission concerned, if any
	Decision   string       `json:"decision,omitempty"` // the evaluator's decision, if any
	Statements []string     `json:"statements,omitempty"`
	// Principal is the principal the finding is about, when it is about
	// one (a principal listed in FSX_PRINCIPALS that lost access).
	Principal   string `json:"principal,omitempty"`
	Message     string `json:"message"`
	Remediation string `json:"remediation,omitempty"`
	// Breaking is true when the finding means FSx cannot use the key.
	Breaking bool `json:"-"`
	// Undecided is true when the finding means the monitor cannot tell.
	Undecided bool `json:"-"`
}

// Report is the outcome of Check.
type Report struct {
	Key       Key
	Aliases   []string
	Resources []Resource
	Trigger   *Trigger
	Status    Status
	Severity  Severity // highest finding severity; "" when there are no findings
	Findings  []Finding
	// FSxGrants are the grants that look like FSx's own (see IsFSxGrant).
	FSxGrants []Grant
}
