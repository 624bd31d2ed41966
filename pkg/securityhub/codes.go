package securityhub

import "github.com/fsxkms/fsxkms/pkg/finding"

// Family groups finding codes in the ASFF Types classifier, the golden
// documents and the README.
type Family string

// Families of finding codes.
const (
	FamilyState   Family = "KMS key state"
	FamilyPolicy  Family = "KMS key policy"
	FamilyGrants  Family = "KMS grants and changes"
	FamilyMonitor Family = "fsxkms monitoring"
)

// TypePrefix is the namespace and category of every fsxkms finding's Types
// entry; the classifier is the code's Family.
const TypePrefix = "Software and Configuration Checks/AWS Security Best Practices/"

// kind is what Security Hub shows for one finding code besides what
// package finding's table says (its title, "KMS key <name> <title>", and
// its findings-reference section, the Remediation URL).
type kind struct {
	family Family
	// remedy is the Remediation text: fsxkms's own words, with %[1]s the
	// key ARN, %[2]s its Region and %[3]s the permission concerned.
	remedy string
}

// kinds covers every code the check returns (a test holds it to
// finding.Codes); RESTORED, RESOLVED and the alerts' own codes are no
// problems and never become findings.
var kinds = map[finding.Code]kind{
	finding.KeyDisabled: {FamilyState,
		"Enable the key: aws kms enable-key --key-id %[1]s --region %[2]s. The FSx resources under Resources use it."},
	finding.KeyPendingDeletion: {FamilyState,
		"Cancel the deletion, then enable the key: aws kms cancel-key-deletion --key-id %[1]s --region %[2]s, then aws kms enable-key --key-id %[1]s --region %[2]s. Once deleted, the FSx resources using it are unrecoverable."},
	finding.KeyPendingImport: {FamilyState,
		"Import the same key material again (aws kms get-parameters-for-import, then aws kms import-key-material --key-id %[1]s --region %[2]s). FSx cannot read its data until then."},
	finding.KeyUnavailable: {FamilyState,
		"If the key is in a custom key store, connect it again (aws kms connect-custom-key-store); if it is Updating or Creating, wait. Check with aws kms describe-key --key-id %[1]s --region %[2]s."},
	finding.KeyNotFound: {FamilyState,
		"A deleted key cannot be brought back: the FSx resources that used it are unrecoverable. Restore their data from backups encrypted with another key, and stop naming the key in FSX_KEY_ARNS."},
	finding.KeyMaterialExpiring: {FamilyState,
		"Import the key material again with a later expiration, or as not expiring: aws kms import-key-material --key-id %[1]s --region %[2]s --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE."},
	finding.RequiredPermissionDenied: {FamilyPolicy,
		"Give FSx %[3]s back in the key policy (for the principals that manage FSx, via kms:ViaService fsx.%[2]s.amazonaws.com). Check the new policy with fsxkms policy check before aws kms put-key-policy --key-id %[1]s --region %[2]s."},
	finding.RequiredPermissionUnsure: {FamilyPolicy,
		"The key policy decides %[3]s for FSx on something fsxkms cannot know (a condition key FSx's requests may carry). Check it with fsxkms policy check, and make the statement decide without it."},
	finding.OptionalPermissionDenied: {FamilyPolicy,
		"FSx still works, but %[3]s via FSx is denied. Allow it in the key policy if FSx should use it; check with fsxkms policy check."},
	finding.PolicyUnreadable: {FamilyPolicy,
		"Read the policy (aws kms get-key-policy --key-id %[1]s --policy-name default --region %[2]s) and fix what fsxkms could not parse; fsxkms policy check says what."},
	finding.GrantRevoked: {FamilyGrants,
		"If FSx still uses the key it needs its grants: the fsxkms alert names the grant, who removed it and which FSx resources are at stake. List the key's grants with aws kms list-grants --key-id %[1]s --region %[2]s."},
	finding.PolicyLockoutBypass: {FamilyGrants,
		"Check that the key's administrators can still manage it: aws kms get-key-policy --key-id %[1]s --policy-name default --region %[2]s."},
	finding.AttemptedChangeDenied: {FamilyGrants,
		"Someone tried to break FSx's use of the key and was refused: the fsxkms alert names the caller, the call and where it came from."},
	finding.MonitorAccessDenied: {FamilyMonitor,
		"fsxkms cannot see the key: allow its role kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants and kms:ListAliases on %[1]s in the key policy."},
	finding.MonitorReadFailed: {FamilyMonitor,
		"KMS throttled or failed fsxkms's reads of the key; the next sweep reads it again. If this stays, read the sweep's log."},
}

// kindOf is the table's entry for code, or a plain one for a code it does
// not know (a newer check than this table).
func kindOf(code finding.Code) kind {
	if k, ok := kinds[code]; ok {
		return k
	}
	return kind{family: FamilyMonitor, remedy: "See the fsxkms alert about the key %[1]s and the findings reference."}
}
