package check

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/internal/awsid"
	"github.com/fsxkms/fsxkms/pkg/finding"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/policy"
)

// Finding codes: the finding package's table, under the names the check
// has always used.
const (
	CodeKeyDisabled              = finding.KeyDisabled
	CodeKeyPendingDeletion       = finding.KeyPendingDeletion
	CodeKeyPendingImport         = finding.KeyPendingImport
	CodeKeyUnavailable           = finding.KeyUnavailable
	CodeKeyNotFound              = finding.KeyNotFound
	CodeKeyMaterialExpiring      = finding.KeyMaterialExpiring
	CodeRequiredPermissionDenied = finding.RequiredPermissionDenied
	CodeRequiredPermissionUnsure = finding.RequiredPermissionUnsure
	CodeOptionalPermissionDenied = finding.OptionalPermissionDenied
	CodePolicyUnreadable         = finding.PolicyUnreadable
	CodeGrantRevoked             = finding.GrantRevoked
	CodePolicyLockoutBypass      = finding.PolicyLockoutBypass
	CodeMonitorAccessDenied      = finding.MonitorAccessDenied
	CodeMonitorReadFailed        = finding.MonitorReadFailed
	CodeAttemptedChangeDenied    = finding.AttemptedChangeDenied
	CodeRestored                 = finding.Restored
)

// materialWarnWindow is how long before imported key material expires the
// check starts warning.
const materialWarnWindow = 30 * 24 * time.Hour

// Check judges the key in in and returns a report. Findings come in a stable
// order: read failures, key state, policy, grants, then the trigger.
func Check(in Input) Report {
	r := Report{
		Key:       in.Key,
		Aliases:   in.Aliases,
		Resources: in.Resources,
		Trigger:   in.Trigger,
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	r.FSxGrants = fsxGrants(in.Grants, in.Resources)

	gone := false
	for _, e := range in.Errors {
		f, notFound := readErrorFinding(in, e)
		if notFound {
			if gone {
				continue // one KEY_NOT_FOUND is enough
			}
			gone = true
		}
		r.Findings = append(r.Findings, f)
	}
	if !gone {
		r.Findings = append(r.Findings, stateFindings(in)...)
		r.Findings = append(r.Findings, policyFindings(in)...)
		r.Findings = append(r.Findings, triggerFindings(in, r.FSxGrants)...)
	}
	r.Status = status(r.Findings)
	if r.Status == Compliant && restores(in.Trigger) {
		r.Findings = append(r.Findings, Finding{
			Code:     CodeRestored,
			Severity: Info,
			Message: fmt.Sprintf("After %s, key %s is usable by FSx again: it is %s and its policy allows every required permission via FSx.",
				in.Trigger.EventName, in.Key.ARN, orUnknown(in.Key.State)),
		})
	}
	for _, f := range r.Findings {
		if f.Severity.Rank() > r.Severity.Rank() {
			r.Severity = f.Severity
		}
	}
	return r
}

// restores reports whether t is a successful call that repairs a key.
// CreateGrant is restoring in the decoder's sense, but FSx creates grants all
// the time: calling each one a recovery would only make noise.
func restores(t *Trigger) bool {
	return t != nil && t.Relevance == kmsevent.Restoring && !t.Failed && t.EventName != "CreateGrant"
}

// status derives the verdict from findings: anything breaking makes the key
// noncompliant; otherwise anything undecided makes it unknown.
func status(fs []Finding) Status {
	undecided := false
	for _, f := range fs {
		if f.Breaking {
			return Noncompliant
		}
		undecided = undecided || f.Undecided
	}
	if undecided {
		return Unknown
	}
	return Compliant
}

func readErrorFinding(in Input, e ReadError) (f Finding, notFound bool) {
	switch e.Kind {
	case NotFound:
		return Finding{
			Code:     CodeKeyNotFound,
			Severity: Critical,
			Breaking: true,
			Message: fmt.Sprintf("Key %s no longer exists (%s: %s). %s encrypted with it cannot be read again.",
				in.Key.ARN, e.Call, e.Message, resourcePhrase(in.Resources, "The FSx resources")),
			Remediation: "A deleted KMS key cannot be recovered. Restore the data from backups encrypted with another key, " +
				"and contact AWS Support about the affected file systems.",
		}, true
	case AccessDenied:
		if role, ok := strings.CutPrefix(e.Call, "sts:AssumeRole "); ok {
			// The organization deployment: the member account's read role.
			return Finding{
				Code: CodeMonitorAccessDenied, Severity: Critical, Undecided: true, Action: "sts:AssumeRole",
				Message: fmt.Sprintf("fsxkms cannot assume its read role %s in account %s (%s), so it is blind to every KMS key "+
					"and FSx resource of that account, key %s included.", role, in.Key.Account, e.Message, in.Key.ARN),
				Remediation: fmt.Sprintf("Deploy fsxkms's member stack in account %s (the StackSet instance), or restore the "+
					"role's trust in the central functions' roles, then check from the central account with:\n"+
					"aws sts assume-role --role-arn %s --role-session-name fsxkms-check", in.Key.Account, role),
			}, false
		}
		return Finding{
			Code:      CodeMonitorAccessDenied,
			Severity:  Critical,
			Undecided: true,
			Action:    e.Call,
			Message: fmt.Sprintf("fsxkms can no longer read key %s: %s was denied (%s). The monitor is blind to this key; "+
				"someone may have removed its access on purpose.", in.Key.ARN, e.Call, e.Message),
			Remediation: fmt.Sprintf("Allow the monitor's role kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants and kms:ListAliases "+
				"on the key again (key policy statement or IAM policy), then check with:\n"+
				"aws kms describe-key --key-id %s --region %s", in.Key.ARN, in.Key.Region),
		}, false
	default:
		return Finding{
			Code:      CodeMonitorReadFailed,
			Severity:  Warning,
			Undecided: true,
			Action:    e.Call,
			Message:   fmt.Sprintf("fsxkms could not read key %s: %s failed: %s.", in.Key.ARN, e.Call, e.Message),
		}, false
	}
}

func stateFindings(in Input) []Finding {
	k := in.Key
	cmd := func(op string, extra string) string {
		return fmt.Sprintf("aws kms %s --key-id %s%s --region %s", op, k.ARN, extra, k.Region)
	}
	at := resourcePhrase(in.Resources, "FSx resources")
	var fs []Finding
	switch k.State {
	case "Enabled", "":
		// Enabled is what FSx needs; an empty state means DescribeKey was not read.
	case "Disabled":
		fs = append(fs, Finding{
			Code: CodeKeyDisabled, Severity: Critical, Breaking: true,
			Message: fmt.Sprintf("Key %s is disabled. FSx cannot decrypt or create grants with it; %s will lose access to their data "+
				"(the effect can be delayed until FSx next uses the key).", k.ARN, at),
			Remediation: cmd("enable-key", ""),
		})
	case "PendingDeletion", "PendingReplicaDeletion":
		when := "after its replicas are deleted"
		if !k.DeletionDate.IsZero() {
			days := int(math.Ceil(k.DeletionDate.Sub(in.Now).Hours() / 24))
			when = fmt.Sprintf("on %s (%d days left)", k.DeletionDate.UTC().Format("2006-01-02 15:04 MST"), max(days, 0))
		}
		fs = append(fs, Finding{
			Code: CodeKeyPendingDeletion, Severity: Critical, Breaking: true,
			Message: fmt.Sprintf("Key %s is scheduled for deletion %s (state %s). It cannot be used meanwhile, and once deleted "+
				"%s %s unreadable for good.", k.ARN, when, k.State, at, verb(in.Resources, "becomes", "become")),
			Remediation: cmd("cancel-key-deletion", "") + "\n" + cmd("enable-key", "") +
				"\n(cancel-key-deletion leaves the key Disabled; enable-key makes it usable again.)",
		})
	case "PendingImport":
		fs = append(fs, Finding{
			Code: CodeKeyPendingImport, Severity: Critical, Breaking: true,
			Message: fmt.Sprintf("Key %s has no key material (deleted or expired imported material). FSx cannot use it; %s.",
				k.ARN, atRisk(in.Resources)),
			Remediation: "Re-import the SAME key material (other material cannot decrypt existing data):\n" +
				cmd("get-parameters-for-import", " --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096") + "\n" +
				cmd("import-key-material", " --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"),
		})
	case "Unavailable":
		rem := "Reconnect the key's custom key store:\naws kms connect-custom-key-store --custom-key-store-id <id> --region " + k.Region
		if k.KeyStoreID != "" {
			rem = fmt.Sprintf("Reconnect the key's custom key store:\naws kms connect-custom-key-store --custom-key-store-id %s --region %s\n"+
				"aws kms describe-custom-key-stores --custom-key-store-id %s --region %s", k.KeyStoreID, k.Region, k.KeyStoreID, k.Region)
		}
		fs = append(fs, Finding{
			Code: CodeKeyUnavailable, Severity: Critical, Breaking: true,
			Message: fmt.Sprintf("Key %s is unavailable: its custom key store is disconnected, so no cryptographic operation works. %s.",
				k.ARN, capitalize(atRisk(in.Resources))),
			Remediation: rem,
		})
	case "Creating", "Updating":
		fs = append(fs, Finding{
			Code: CodeKeyUnavailable, Severity: Warning, Undecided: true,
			Message: fmt.Sprintf("Key %s is in the transient state %s (e.g. UpdatePrimaryRegion); FSx requests can fail until it ends.",
				k.ARN, k.State),
			Remediation: cmd("describe-key", " --query KeyMetadata.KeyState"),
		})
	default:
		fs = append(fs, Finding{
			Code: CodeKeyUnavailable, Severity: Warning, Undecided: true,
			Message: fmt.Sprintf("Key %s is in state %q, which fsxkms does not know.", k.ARN, k.State),
		})
	}
	if k.Origin == "EXTERNAL" && !k.ValidTo.IsZero() && k.State == "Enabled" && k.ValidTo.Sub(in.Now) < materialWarnWindow {
		fs = append(fs, Finding{
			Code: CodeKeyMaterialExpiring, Severity: Warning,
			Message: fmt.Sprintf("The imported key material of %s expires on %s; KMS then deletes it and FSx loses the key.",
				k.ARN, k.ValidTo.UTC().Format("2006-01-02 15:04 MST")),
			Remediation: "Re-import the same key material with a later expiry, or with --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE:\n" +
				cmd("import-key-material", " --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"),
		})
	}
	return fs
}

// policyFindings evaluates the key policy for every account that owns an FSx
// resource on the key (kms:CallerAccount is the resource owner's account).
//
// FSx makes every KMS call for a resource as the one caller who creates or
// changes it, so the key works only when one principal holds every required
// permission (policy.CheckFSx). A required permission nobody holds gives one
// finding per permission; with principals to check (FSX_PRINCIPALS), each
// listed principal that lacks one gets its own; when each permission is
// held by someone but nobody holds them all, one finding says who lacks what.
func policyFindings(in Input) []Finding {
	if in.Policy == "" {
		return nil // not read; a read error finding says why
	}
	k := in.Key
	p, err := policy.Parse([]byte(in.Policy))
	if err != nil {
		return []Finding{{
			Code: CodePolicyUnreadable, Severity: Warning, Undecided: true,
			Message: fmt.Sprintf("The policy of key %s could not be evaluated: %v.", k.ARN, err),
		}}
	}
	var fs []Finding
	for _, acct := range owners(in) {
		region := k.Region
		res := policy.CheckFSx(p, policy.FSxParams{Account: acct, Region: region, KeyARN: k.ARN,
			Principals: in.Principals, Key: keyFacts(k), Now: in.Now})
		fs = append(fs, verdictFindings(in, p, acct, region, res)...)
		for _, perm := range res.Permissions {
			if f, ok := optionalFinding(in, acct, region, perm); ok {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// keyFacts are the key's properties in FSx's request context, from
// DescribeKey when it was read.
func keyFacts(k Key) policy.KeyFacts {
	if k.State == "" {
		return policy.KeyFacts{} // not read: unknown
	}
	mr := k.MultiRegion
	return policy.KeyFacts{Spec: k.Spec, MultiRegion: &mr, MultiRegionKeyType: k.MultiRegionKeyType, Origin: k.Origin}
}

// verdictFindings turns the one-principal verdict into findings about the
// required permissions.
func verdictFindings(in Input, p *policy.Policy, acct, region string, res policy.FSxResult) []Finding {
	if res.Verdict == policy.VerdictUsable {
		return nil
	}
	k := in.Key
	via := fmt.Sprintf("via fsx.%s.amazonaws.com for account %s", region, acct)
	broken := res.Verdict == policy.VerdictBroken
	var fs []Finding
	if len(in.Principals) > 0 {
		// Each listed principal must hold every required permission.
		for _, pr := range res.Principals {
			if pr.Verdict == policy.VerdictUsable || (broken && pr.Verdict != policy.VerdictBroken) {
				continue
			}
			fs = append(fs, principalFinding(in, p, acct, region, via, pr))
		}
		if res.MorePrincipals > 0 && len(fs) > 0 {
			fs[len(fs)-1].Message += fmt.Sprintf(" (%d more listed principals not shown.)", res.MorePrincipals)
		}
		return fs
	}
	// Any principal: first the permissions nobody holds.
	for _, perm := range res.Permissions {
		if !perm.Required {
			continue
		}
		denied := perm.Decision == policy.DenyExplicit || perm.Decision == policy.DenyImplicit
		if broken && denied {
			fs = append(fs, Finding{
				Code: CodeRequiredPermissionDenied, Severity: Critical, Breaking: true,
				Action: perm.Action, Decision: string(perm.Decision), Statements: perm.Statements,
				Message: fmt.Sprintf("The policy of key %s no longer allows %s %s (%s): %s FSx needs it; %s.",
					k.ARN, perm.Action, via, perm.Decision, sentence(perm.Reason), atRisk(in.Resources)),
				Remediation: policyRemediation(k, acct, region, perm.Action, perm.Decision,
					fsxStatement(k, acct, region, "", policy.RequiredActions), perm.Statements),
			})
		}
		if !broken && perm.Decision == policy.Indeterminate {
			fs = append(fs, Finding{
				Code: CodeRequiredPermissionUnsure, Severity: Warning, Undecided: true,
				Action: perm.Action, Decision: string(perm.Decision), Statements: perm.Statements,
				Message: fmt.Sprintf("fsxkms cannot decide whether the policy of key %s allows %s %s: %s",
					k.ARN, perm.Action, via, sentence(perm.Reason)),
				Remediation: policyRemediation(k, acct, region, perm.Action, perm.Decision, "", perm.Statements),
			})
		}
	}
	if len(fs) > 0 {
		return fs
	}
	// Every permission is held by someone, but nobody holds them all (or
	// whether someone does is undecided).
	f := Finding{Code: CodeRequiredPermissionDenied, Severity: Critical, Breaking: true, Decision: string(policy.DenyImplicit)}
	if !broken {
		f = Finding{Code: CodeRequiredPermissionUnsure, Severity: Warning, Undecided: true, Decision: string(policy.Indeterminate)}
	}
	for _, pr := range res.Principals {
		if len(pr.Missing) > 0 || len(pr.Undecided) > 0 {
			f.Statements = pr.Statements
			break
		}
	}
	f.Message = fmt.Sprintf("No single principal can use key %s %s: %s. FSx makes every KMS call for a resource as the one "+
		"caller who creates or changes it, so that caller needs all four required permissions; %s.",
		k.ARN, via, res.Summary, atRisk(in.Resources))
	if !broken {
		f.Message = fmt.Sprintf("fsxkms cannot decide whether one principal can use key %s %s: %s.",
			k.ARN, via, res.Summary)
	}
	f.Remediation = policyRemediation(k, acct, region, "every required permission ("+strings.Join(policy.RequiredActions, ", ")+") to one principal",
		policy.Decision(f.Decision), fsxStatement(k, acct, region, "", policy.RequiredActions), f.Statements)
	return []Finding{f}
}

// principalFinding reports a listed principal that lacks (or may lack) a
// required permission.
func principalFinding(in Input, p *policy.Policy, acct, region, via string, pr policy.PrincipalResult) Finding {
	k := in.Key
	f := Finding{Principal: pr.Principal, Statements: pr.Statements}
	if pr.Verdict == policy.VerdictBroken {
		f.Code, f.Severity, f.Breaking = CodeRequiredPermissionDenied, Critical, true
		f.Action, f.Decision = pr.Missing[0], "Deny"
		f.Message = fmt.Sprintf("%s can no longer use key %s %s: the policy does not allow it %s. %s FSx needs every one of them "+
			"from the same caller; %s.",
			pr.Principal, k.ARN, via, strings.Join(pr.Missing, ", "), sentence(pr.Reason), atRisk(in.Resources))
	} else {
		f.Code, f.Severity, f.Undecided = CodeRequiredPermissionUnsure, Warning, true
		f.Action, f.Decision = pr.Undecided[0], string(policy.Indeterminate)
		f.Message = fmt.Sprintf("fsxkms cannot decide whether %s can use key %s %s (%s): %s",
			pr.Principal, k.ARN, via, strings.Join(pr.Undecided, ", "), sentence(pr.Reason))
	}
	// A listed principal lacks a permission for want of an Allow, or
	// because a Deny it names denies it.
	decision := policy.Indeterminate
	if pr.Verdict == policy.VerdictBroken {
		decision = policy.DenyImplicit
		if denies(p, pr.Statements) {
			decision = policy.DenyExplicit
		}
	}
	f.Remediation = policyRemediation(k, acct, region, strings.Join(append(pr.Missing, pr.Undecided...), ", ")+" to "+pr.Principal,
		decision, fsxStatement(k, acct, region, pr.Principal, policy.RequiredActions), pr.Statements)
	return f
}

// optionalFinding reports an optional permission nobody holds.
func optionalFinding(in Input, acct, region string, perm policy.Permission) (Finding, bool) {
	if perm.Required || (perm.Decision != policy.DenyExplicit && perm.Decision != policy.DenyImplicit) {
		return Finding{}, false
	}
	k := in.Key
	via := fmt.Sprintf("via fsx.%s.amazonaws.com for account %s", region, acct)
	return Finding{
		Code: CodeOptionalPermissionDenied, Severity: Warning,
		Action: perm.Action, Decision: string(perm.Decision), Statements: perm.Statements,
		Message: fmt.Sprintf("The policy of key %s does not allow the optional %s %s (%s): %s",
			k.ARN, perm.Action, via, perm.Decision, sentence(perm.Reason)),
		Remediation: policyRemediation(k, acct, region, perm.Action, perm.Decision,
			fsxStatement(k, acct, region, "", []string{perm.Action}), perm.Statements),
	}, true
}

// policyRemediation says how to make the key policy allow what (a sentence
// naming the permissions and, if one, the principal) via FSx for account
// acct: save the policy, change it, check it with fsxkms policy check, put
// it back. A Deny-implicit (no statement allows it) gets a paste-ready
// statement (fsxStatement) to add; an explicit Deny or an undecided
// statement has to be edited, and the finding names it. Every command is
// one line of its own, every other line plain text.
func policyRemediation(k Key, acct, region, what string, decision policy.Decision, stmt string, statements []string) string {
	// Statement names are policy text (a Sid can hold anything): the fix
	// points at the finding's statement list rather than repeating them.
	var change string
	switch {
	case decision == policy.DenyImplicit && len(statements) == 0:
		change = fmt.Sprintf("No statement allows %s via FSx for account %s: add a statement that allows it to the Statement list in policy.json, such as:\n%s",
			what, acct, stmt)
	case decision == policy.DenyImplicit:
		change = fmt.Sprintf("In policy.json, edit the statement(s) this finding names, or add a statement that allows %s via FSx for account %s "+
			"to the Statement list, such as:\n%s", what, acct, stmt)
	case decision == policy.DenyExplicit:
		change = fmt.Sprintf("In policy.json, remove or narrow the Deny statement(s) this finding names so that they no longer deny %s "+
			"via FSx for account %s (an explicit Deny wins over any Allow).", what, acct)
	default:
		change = fmt.Sprintf("In policy.json, edit the statement(s) this finding names so that what they do to %s via FSx for account %s "+
			"no longer depends on what FSx's request leaves unknown (a Deny can exempt kms:ViaService fsx.%s.amazonaws.com).", what, acct, region)
	}
	return fmt.Sprintf("Save the key policy:\n"+
		"aws kms get-key-policy --key-id %[1]s --policy-name default --query Policy --output text --region %[2]s > policy.json\n"+
		"%[3]s\n"+
		"Check the edited policy, then put it back:\n"+
		"fsxkms policy check --policy policy.json --account %[4]s --region %[2]s --key-arn %[1]s\n"+
		"aws kms put-key-policy --key-id %[1]s --policy-name default --policy file://policy.json --region %[2]s",
		k.ARN, region, change, acct)
}

// denies reports whether one of the statements named (policy.Statement's
// Name, as results name them) is a Deny.
func denies(p *policy.Policy, named []string) bool {
	for _, st := range p.Statements() {
		if st.Effect() == policy.EffectDeny && slices.Contains(named, st.Name()) {
			return true
		}
	}
	return false
}

// fsxStatement is a key policy statement, as one line of JSON, that allows
// actions via FSx in region for FSx resources of account acct to principal:
// an IAM ARN, or the root of an account (IAM policies then decide) when it
// is empty (acct) or an account ID. It is the statement docs/findings.md
// shows.
func fsxStatement(k Key, acct, region, principal string, actions []string) string {
	// A Sid holds letters and digits only: "AllowFSx", the action when
	// there is one, and the account or the name at the end of the
	// principal's ARN (two statements to paste never share a Sid).
	name := principal[strings.LastIndexAny(principal, "/:")+1:]
	if principal == "" || awsid.Account(principal) {
		if principal == "" {
			principal = acct
		}
		name = principal
		partition := "aws"
		if p := strings.SplitN(k.ARN, ":", 3); len(p) == 3 && p[0] == "arn" && p[1] != "" {
			partition = p[1]
		}
		principal = "arn:" + partition + ":iam::" + principal + ":root"
	}
	sid := "AllowFSx"
	if len(actions) == 1 { // an optional permission: its own statement
		name = strings.TrimPrefix(actions[0], "kms:") + name
	}
	for _, r := range name {
		if len(sid) < 64 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			sid += string(r)
		}
	}
	b, _ := json.Marshal(struct {
		Sid       string              `json:"Sid"`
		Effect    string              `json:"Effect"`
		Principal map[string]string   `json:"Principal"`
		Action    []string            `json:"Action"`
		Resource  string              `json:"Resource"`
		Condition map[string]fsxConds `json:"Condition"`
	}{sid, "Allow", map[string]string{"AWS": principal}, actions, "*",
		map[string]fsxConds{"StringEquals": {"fsx." + region + ".amazonaws.com", acct}}})
	return string(b)
}

// fsxConds are the conditions of fsxStatement, in the order people read them.
type fsxConds struct {
	ViaService    string `json:"kms:ViaService"`
	CallerAccount string `json:"kms:CallerAccount"`
}

func triggerFindings(in Input, fsx []Grant) []Finding {
	t := in.Trigger
	if t == nil {
		return nil
	}
	k := in.Key
	var fs []Finding
	if t.Relevance == kmsevent.Attempted {
		fs = append(fs, Finding{
			Code: CodeAttemptedChangeDenied, Severity: Warning,
			Action: t.EventName,
			Message: fmt.Sprintf("%s tried %s on key %s, which FSx uses, and was refused (%s). Nothing changed, but someone is trying.",
				actorSubject(t.Actor), t.EventName, k.ARN, t.ErrorCode),
			Remediation: "Find out who made the call and why (CloudTrail event history, the actor above).",
		})
		return fs
	}
	if t.Failed {
		return nil
	}
	switch t.EventName {
	case "RevokeGrant", "RetireGrant":
		if t.FSxOwnGrantOperation() {
			break // FSx retiring or revoking its own grant: routine, the monitor counts it
		}
		fs = append(fs, grantRevokedFinding(in, fsx))
	case "PutKeyPolicy":
		if t.BypassPolicyLockoutSafetyCheck {
			fs = append(fs, Finding{
				Code: CodePolicyLockoutBypass, Severity: Warning,
				Action: "kms:PutKeyPolicy",
				Message: fmt.Sprintf("%s set the policy of key %s with BypassPolicyLockoutSafetyCheck=true. The key may no longer be manageable by anyone in the account.",
					actorSubject(t.Actor), k.ARN),
				Remediation: fmt.Sprintf("Check that a principal can still manage the key:\naws kms get-key-policy --key-id %s --policy-name default --region %s",
					k.ARN, k.Region),
			})
		}
	}
	return fs
}

// owners lists the accounts whose FSx resources use the key, sorted; the key's
// own account when no resource names one.
func owners(in Input) []string {
	var as []string
	for _, r := range in.Resources {
		if r.OwnerID != "" && !slices.Contains(as, r.OwnerID) {
			as = append(as, r.OwnerID)
		}
	}
	if len(as) == 0 && in.Key.Account != "" {
		as = append(as, in.Key.Account)
	}
	sort.Strings(as)
	return as
}

// resourcePhrase counts the resources by kind, e.g. "1 FSx file system",
// "398 FSx backups", "400 FSx resources (2 file systems, 398 backups)";
// none when there are none. It names no resource: the alert lists them
// once, under its findings, so a message stays short with hundreds.
func resourcePhrase(rs []Resource, none string) string {
	if len(rs) == 0 {
		return none
	}
	var kinds []string
	count := map[string]int{}
	for _, r := range rs {
		kind := r.Type
		if !slices.Contains([]string{ResourceFileSystem, ResourceBackup, ResourceFileCache}, kind) {
			kind = ""
		}
		if count[kind] == 0 {
			kinds = append(kinds, kind)
		}
		count[kind]++
	}
	if len(kinds) == 1 {
		return fmt.Sprintf("%d FSx %s", len(rs), kindNoun(kinds[0], len(rs)))
	}
	sort.Slice(kinds, func(i, j int) bool { return kindRank(kinds[i]) < kindRank(kinds[j]) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", count[k], kindNoun(k, count[k]))
	}
	return fmt.Sprintf("%d FSx resources (%s)", len(rs), strings.Join(parts, ", "))
}

// atRisk says that the resources are at risk, e.g. "2 FSx backups are at
// risk".
func atRisk(rs []Resource) string {
	return resourcePhrase(rs, "FSx resources") + " " + verb(rs, "is", "are") + " at risk"
}

// verb is one when rs holds one resource, else many.
func verb(rs []Resource, one, many string) string {
	if len(rs) == 1 {
		return one
	}
	return many
}

// kindNoun names n resources of a kind ("" for another kind).
func kindNoun(kind string, n int) string {
	noun := map[string]string{ResourceFileSystem: "file system", ResourceBackup: "backup", ResourceFileCache: "file cache"}[kind]
	if noun == "" {
		noun = "resource"
	}
	if n != 1 {
		noun += "s"
	}
	return noun
}

// kindRank orders kinds: file systems, backups, file caches, others.
func kindRank(kind string) int {
	switch kind {
	case ResourceFileSystem:
		return 0
	case ResourceBackup:
		return 1
	case ResourceFileCache:
		return 2
	}
	return 3
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return capitalize(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// actorSubject names who made a call at the start of a sentence.
func actorSubject(actor string) string {
	if actor == "" {
		return "An unknown principal"
	}
	return actor
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown principal"
	}
	return s
}
