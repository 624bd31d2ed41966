package check

import (
	"fmt"
	"regexp"
	"strings"
)

// fsxPrincipal matches FSx's service principal, fsx.amazonaws.com, and its
// Regional form fsx.<region>.amazonaws.com.
var fsxPrincipal = regexp.MustCompile(`^fsx(\.[a-z]{2}(-[a-z]+)+-[0-9]+)?\.amazonaws\.com$`)

// isFSxPrincipal reports whether s names FSx's service principal.
func isFSxPrincipal(s string) bool {
	return fsxPrincipal.MatchString(strings.ToLower(strings.TrimSpace(s)))
}

// ByFSx reports whether FSx itself made the call t describes.
//
// CloudTrail names the AWS service that made a call in userIdentity.invokedBy,
// and a caller cannot set that field. FSx's own calls come from accounts FSx
// owns ("AWS account IDs specific to Amazon FSx appear in your AWS CloudTrail
// logs related to AWS KMS actions", FSx user guides, encryption at rest), so
// the record's type may be AWSService or AWSAccount; either way invokedBy is
// fsx.amazonaws.com. A call FSx makes for one of your principals (a forward
// access session, e.g. while deleting a file system) also carries invokedBy
// fsx.amazonaws.com: FSx chose to make it. A record of type AWSService whose
// only identity is FSx's service principal (the grant's retiring principal
// retiring its own grant) counts too.
func (t *Trigger) ByFSx() bool {
	if t == nil {
		return false
	}
	if isFSxPrincipal(t.InvokedBy) {
		return true
	}
	return t.ActorType == "AWSService" && isFSxPrincipal(t.Actor)
}

// FSxOwnGrantOperation reports whether t is a successful RetireGrant or
// RevokeGrant that FSx made itself (see ByFSx): routine, as when FSx deletes
// a file system, a backup or a cache and retires the grants it made for it.
// Check raises no finding for it; the monitor logs and counts it.
func (t *Trigger) FSxOwnGrantOperation() bool {
	return t != nil && !t.Failed && isGrantRemoval(t.EventName) && t.ByFSx()
}

func isGrantRemoval(eventName string) bool {
	return eventName == "RevokeGrant" || eventName == "RetireGrant"
}

// grantRevokedFinding reports a grant revoked or retired by someone other
// than FSx. It is CRITICAL when no grant that looks like FSx's remains on a
// key FSx still uses (a resource in the inventory, which the monitor re-reads
// before it trusts a cached one, or a key listed in FSX_KEY_ARNS), WARNING
// otherwise.
func grantRevokedFinding(in Input, fsx []Grant) Finding {
	t, k := in.Trigger, in.Key
	grant := t.GrantID
	if grant == "" {
		grant = "(id not in the event)"
	}
	verb := "revoked"
	if t.EventName == "RetireGrant" {
		verb = "retired"
	}
	f := Finding{
		Code:   CodeGrantRevoked,
		Action: "kms:" + t.EventName,
	}
	inUse := len(in.Resources) > 0 || in.KeyListed
	var remain string
	switch {
	case !in.GrantsRead:
		remain = "The remaining grants could not be read, so whether a grant that looks like FSx's remains is unknown."
		f.Severity, f.Undecided = Warning, true
	case len(fsx) == 0 && inUse:
		remain = "No grant that looks like FSx's remains on the key, and FSx still uses it."
		f.Severity, f.Breaking = Critical, true
	case len(fsx) == 0:
		remain = "No grant that looks like FSx's remains on the key, but FSx no longer lists a resource that uses it."
		f.Severity = Warning
	default:
		const show = 5
		ids := make([]string, 0, show+1)
		for i, g := range fsx {
			if i == show {
				ids = append(ids, fmt.Sprintf("and %d more", len(fsx)-show))
				break
			}
			ids = append(ids, g.ID)
		}
		remain = fmt.Sprintf("%d grant(s) that look like FSx's remain: %s.", len(fsx), strings.Join(ids, ", "))
		f.Severity = Warning
	}
	uses := resourcePhrase(in.Resources, "the resources it encrypts with it")
	if len(in.Resources) == 0 && in.KeyListed {
		uses += " (the key is listed in FSX_KEY_ARNS)"
	}
	f.Message = fmt.Sprintf("%s %s grant %s on key %s (%s). FSx uses grants to reach the key for %s. %s",
		actorSubject(t.Actor), verb, grant, k.ARN, t.EventName, uses, remain)
	f.Remediation = grantRemediation(in)
	return f
}

// grantRemediation lists the remaining grants, checks each kind of FSx
// resource on the key with its own describe command, and says how to stop
// it happening again: restricting kms:RevokeGrant helps against a revocation
// only; a retirement is made by a principal the grant itself names.
func grantRemediation(in Input) string {
	t, k := in.Trigger, in.Key
	var b strings.Builder
	fmt.Fprintf(&b, "List the grants left on the key:\naws kms list-grants --key-id %s --region %s\n", k.ARN, k.Region)
	b.WriteString("Check that the FSx resources on the key are still AVAILABLE:\n")
	for _, kind := range resourceKinds {
		ids, found := idsOf(in.Resources, kind.typ)
		if !found && len(in.Resources) > 0 {
			continue // name only the kinds on the key
		}
		filter := fmt.Sprintf(" --query \"%s[?KmsKeyId=='%s'].[%s,Lifecycle]\"", kind.list, k.ARN, kind.idField)
		if ids != nil {
			filter = fmt.Sprintf(" %s %s --query '%s[].[%s,Lifecycle]'", kind.idsFlag, strings.Join(ids, " "), kind.list, kind.idField)
		}
		fmt.Fprintf(&b, "aws fsx %s --region %s%s\n", kind.command, k.Region, filter)
	}
	b.WriteString("FSx grants cannot be recreated by hand; if a resource turns MISCONFIGURED or FAILED, contact AWS Support.")
	if t.EventName == "RetireGrant" {
		// "This operation can be called by the retiring principal for a
		// grant, by the grantee principal if the grant allows the
		// RetireGrant operation, and by the AWS account in which the grant
		// is created" (KMS API reference, RetireGrant): the key policy's
		// kms:RevokeGrant has nothing to do with it.
		fmt.Fprintf(&b, "\nA grant is retired by its retiring principal, by its grantee when the grant allows RetireGrant, "+
			"or by the account that created it: find out why %s retired it (CloudTrail event history).", orUnknown(t.Actor))
	} else {
		b.WriteString("\nRestrict kms:RevokeGrant in the key policy to stop it happening again.")
	}
	return b.String()
}

// resourceKinds are the FSx resources that carry a key, with the AWS CLI
// command that describes each.
var resourceKinds = []struct {
	typ, command, idsFlag, list, idField string
}{
	{ResourceFileSystem, "describe-file-systems", "--file-system-ids", "FileSystems", "FileSystemId"},
	{ResourceBackup, "describe-backups", "--backup-ids", "Backups", "BackupId"},
	{ResourceFileCache, "describe-file-caches", "--file-cache-ids", "FileCaches", "FileCacheId"},
}

// maxCommandIDs bounds the ids one describe command names.
const maxCommandIDs = 10

// safeID matches the FSx resource ids that may go into a shell command.
var safeID = regexp.MustCompile(`^[a-z]+-[0-9a-f]{8,32}$`)

// idsOf returns the ids of the resources of type typ, and whether there are
// any. ids is nil when they cannot all be named in a command (too many, or
// one is not shaped like an FSx id): the command then filters on the key.
func idsOf(rs []Resource, typ string) (ids []string, found bool) {
	for _, r := range rs {
		if r.Type == typ {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil, false
	}
	if len(ids) > maxCommandIDs {
		return nil, true
	}
	for _, id := range ids {
		if !safeID.MatchString(id) {
			return nil, true
		}
	}
	return ids, true
}

// fsxResourceID matches the ids FSx gives its resources: file systems
// (fs-), backups (backup-), Amazon File Caches (fc-) and ONTAP or OpenZFS
// volumes (fsvol-) (FSx API reference: the id patterns of FileSystemId,
// BackupId, FileCacheId and VolumeId).
var fsxResourceID = regexp.MustCompile(`^(fs|backup|fc|fsvol)-[0-9a-f]{8,21}$`)

// IsFSxGrant reports whether a grant looks like one Amazon FSx created. AWS
// does not document FSx's grants (grantee, retiring principal, name,
// constraints), so this is a heuristic. A grant looks like FSx's when:
//
//   - "fsx" appears in its grantee or retiring principal (FSx's service
//     principal, or a role of FSx), its name, its SourceArn constraint, or a
//     key or value of its encryption context constraint; or
//   - a value of its encryption context names an FSx resource id (fs-,
//     backup-, fc-, fsvol-), unless the context key belongs to another AWS
//     service (aws:elasticfilesystem:... also holds fs- ids).
//
// Check also counts grants whose constraints name a resource in the
// inventory of the key.
func IsFSxGrant(g Grant) bool {
	return isFSxGrant(g, nil)
}

func isFSxGrant(g Grant, known map[string]bool) bool {
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), "fsx") }
	if has(g.GranteePrincipal) || has(g.RetiringPrincipal) || has(g.Name) || has(g.SourceARN) {
		return true
	}
	if g.SourceARN != "" && known[g.SourceARN[strings.LastIndexAny(g.SourceARN, "/:")+1:]] {
		return true
	}
	for k, v := range g.EncryptionContext {
		if has(k) || has(v) || known[v] {
			return true
		}
		if otherService(k) {
			continue
		}
		if fsxResourceID.MatchString(v) {
			return true
		}
	}
	return false
}

// otherService reports whether an encryption context key is in the aws:
// namespace of a service other than FSx (aws:ebs:id, aws:elasticfilesystem:
// filesystem:id, ...).
func otherService(key string) bool {
	k := strings.ToLower(key)
	return strings.HasPrefix(k, "aws:") && !strings.HasPrefix(k, "aws:fsx")
}

// fsxGrants returns the grants that look like FSx's (IsFSxGrant), counting
// also those whose constraints name one of the resources on the key.
func fsxGrants(gs []Grant, rs []Resource) []Grant {
	known := make(map[string]bool, len(rs))
	for _, r := range rs {
		if r.ID != "" {
			known[r.ID] = true
		}
	}
	var out []Grant
	for _, g := range gs {
		if isFSxGrant(g, known) {
			out = append(out, g)
		}
	}
	return out
}
