package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// RequiredActions are the KMS permissions Amazon FSx needs on a key.
var RequiredActions = []string{"kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant", "kms:DescribeKey"}

// OptionalActions are the KMS permissions Amazon FSx uses when present.
var OptionalActions = []string{"kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ListAliases"}

// FSxParams describes the FSx deployment a key serves.
type FSxParams struct {
	Account    string   // account that owns the FSx resources (kms:CallerAccount)
	Region     string   // kms:ViaService = fsx.<Region>.amazonaws.com
	KeyARN     string   // optional; aws:ResourceAccount, aws:RequestedRegion and kms:MultiRegion come from it
	Principals []string // optional principals that manage FSx; empty = consider any principal of Account plus every same-account principal the policy names

	// Key holds what DescribeKey says about the key; zero fields are unknown.
	Key KeyFacts
	// Now is the time of FSx's requests (aws:CurrentTime, aws:EpochTime);
	// zero means time.Now().
	Now time.Time
	// PrincipalOrgID is the callers' organization (aws:PrincipalOrgID), or
	// "" when unknown.
	PrincipalOrgID string
}

// KeyFacts are properties of the key that KMS puts in the request context
// of every operation on it. Zero values are unknown, except where noted.
type KeyFacts struct {
	// Spec is kms:KeySpec. "" means SYMMETRIC_DEFAULT: FSx accepts only
	// symmetric encryption keys.
	Spec string
	// MultiRegion is kms:MultiRegion; nil means "from the key ARN's id"
	// (multi-Region key ids begin with mrk-), or unknown without a key ARN.
	MultiRegion *bool
	// MultiRegionKeyType is kms:MultiRegionKeyType (PRIMARY or REPLICA).
	MultiRegionKeyType string
	// Origin is kms:KeyOrigin: AWS_KMS, EXTERNAL, AWS_CLOUDHSM or
	// EXTERNAL_KEY_STORE.
	Origin string
}

// Permission is the verdict for one KMS permission FSx uses, across the
// principals considered.
type Permission struct {
	Action     string   `json:"action"`
	Required   bool     `json:"required"`
	Decision   Decision `json:"decision"`
	Who        string   `json:"who"` // "any principal of 111122223333 via FSx", "only role/FsxAdmin", "delegated to IAM", "nobody"
	Statements []string `json:"statements"`
	Reason     string   `json:"reason"`
}

// Verdict says whether FSx can use a key under its policy.
type Verdict string

// The verdicts of CheckFSx.
const (
	// VerdictUsable: some principal (every listed one, with
	// FSxParams.Principals) holds every required permission via FSx.
	VerdictUsable Verdict = "usable"
	// VerdictBroken: no principal holds every required permission (with
	// FSxParams.Principals: some listed one does not).
	VerdictBroken Verdict = "broken"
	// VerdictUndecided: the answer depends on something the evaluator
	// cannot know.
	VerdictUndecided Verdict = "undecided"
)

// PrincipalResult is what one candidate principal can do via FSx. FSx makes
// all its calls to KMS for a resource with the identity of the one caller
// who creates or changes it, so a principal must hold every required
// permission by itself.
type PrincipalResult struct {
	// Principal is an IAM ARN, or an account id standing for every
	// principal of that account the policy does not name.
	Principal string  `json:"principal"`
	Verdict   Verdict `json:"verdict"`
	// Missing lists the required permissions denied to it; Undecided the
	// ones the evaluator cannot decide.
	Missing   []string `json:"missing,omitempty"`
	Undecided []string `json:"undecided,omitempty"`
	// Statements and Reason explain the first missing (else undecided)
	// permission.
	Statements []string `json:"statements,omitempty"`
	Reason     string   `json:"reason,omitempty"`
}

// FSxResult is the outcome of CheckFSx.
type FSxResult struct {
	Verdict Verdict `json:"verdict"`
	Usable  bool    `json:"usable"` // Verdict == VerdictUsable
	// Summary is one sentence: who holds every required permission, or
	// who lacks what.
	Summary     string       `json:"summary"`
	Permissions []Permission `json:"permissions"` // required ones first, in the order of RequiredActions then OptionalActions
	// Principals lists the first MaxPrincipalsListed candidates, in order:
	// the account (when no principals were given), then the principals
	// named in the policy or given.
	Principals []PrincipalResult `json:"principals"`
	// MorePrincipals counts the candidates left out of Principals.
	MorePrincipals int `json:"morePrincipals,omitempty"`
}

// MaxPrincipalsListed bounds FSxResult.Principals, and maxNamed the names
// and statements a sentence lists, so that a policy naming hundreds of
// roles still gives a short answer.
const (
	MaxPrincipalsListed = 10
	maxNamed            = 3
	maxStatements       = 10
)

// CheckFSx evaluates every permission FSx uses on the key in the context of
// an FSx request from params.Account in params.Region (see
// docs/request-model.md for each value and the AWS sentence behind it).
//
// The key is usable when some candidate principal (with params.Principals:
// each of them) is allowed every required permission by itself.
func CheckFSx(p *Policy, params FSxParams) FSxResult {
	principals := params.Principals
	anyPrincipal := len(principals) == 0
	if anyPrincipal {
		principals = append([]string{params.Account}, p.namedPrincipals(params.Account)...)
	}
	actions := append(append([]string{}, RequiredActions...), OptionalActions...)
	m := newFSxModel(p, params)

	// results[a][j] is action a for principal j.
	results := make([][]Result, len(actions))
	for a, action := range actions {
		only := p.covering(action)
		results[a] = make([]Result, len(principals))
		for j, pr := range principals {
			results[a][j] = m.evaluate(p, pr, action, only)
		}
	}

	out := FSxResult{Permissions: make([]Permission, 0, len(actions))}
	for a, action := range actions {
		perm := Permission{Action: action, Required: a < len(RequiredActions)}
		combine(&perm, principals, results[a], params.Account, anyPrincipal)
		out.Permissions = append(out.Permissions, perm)
	}

	verdicts := make([]PrincipalResult, len(principals))
	counts := map[Verdict]int{}
	for j, pr := range principals {
		v := PrincipalResult{Principal: pr, Verdict: VerdictUsable}
		explained := false
		explain := func(r Result) {
			if !explained {
				v.Statements, v.Reason, explained = r.Statements, r.Reason, true
			}
		}
		for a := range RequiredActions {
			if r := results[a][j]; r.Decision == DenyExplicit || r.Decision == DenyImplicit {
				v.Missing = append(v.Missing, actions[a])
				explain(r)
			}
		}
		for a := range RequiredActions {
			if r := results[a][j]; r.Decision == Indeterminate {
				v.Undecided = append(v.Undecided, actions[a])
				explain(r)
			}
		}
		switch {
		case len(v.Missing) > 0:
			v.Verdict = VerdictBroken
		case len(v.Undecided) > 0:
			v.Verdict = VerdictUndecided
		}
		counts[v.Verdict]++
		verdicts[j] = v
	}
	switch {
	case anyPrincipal && counts[VerdictUsable] > 0, !anyPrincipal && counts[VerdictUsable] == len(principals):
		out.Verdict = VerdictUsable
	case anyPrincipal && counts[VerdictUndecided] > 0, !anyPrincipal && counts[VerdictBroken] == 0:
		out.Verdict = VerdictUndecided
	default:
		out.Verdict = VerdictBroken
	}
	out.Usable = out.Verdict == VerdictUsable
	out.Summary = summarize(out.Verdict, verdicts, params.Account, anyPrincipal)
	if len(verdicts) > MaxPrincipalsListed {
		out.MorePrincipals = len(verdicts) - MaxPrincipalsListed
		verdicts = verdicts[:MaxPrincipalsListed]
	}
	out.Principals = verdicts
	return out
}

// summarize says in one sentence who can use the key via FSx, or who lacks
// what.
func summarize(v Verdict, ps []PrincipalResult, account string, anyPrincipal bool) string {
	name := func(pr PrincipalResult) string {
		if pr.Principal == account && anyPrincipal {
			return "other principals of " + account
		}
		return shortName(pr.Principal, account)
	}
	pick := func(want Verdict) []PrincipalResult {
		var out []PrincipalResult
		for _, pr := range ps {
			if pr.Verdict == want {
				out = append(out, pr)
			}
		}
		return out
	}
	list := func(prs []PrincipalResult, what func(PrincipalResult) string) string {
		parts := make([]string, 0, maxNamed+1)
		for i, pr := range prs {
			if i == maxNamed {
				parts = append(parts, fmt.Sprintf("and %d more", len(prs)-maxNamed))
				break
			}
			parts = append(parts, what(pr))
		}
		return strings.Join(parts, "; ")
	}
	lacks := func(pr PrincipalResult) string {
		verb := " lacks "
		if pr.Principal == account && anyPrincipal {
			verb = " lack "
		}
		return name(pr) + verb + strings.Join(pr.Missing, ", ")
	}
	undecided := func(pr PrincipalResult) string {
		return name(pr) + ": undecided for " + strings.Join(pr.Undecided, ", ")
	}
	switch v {
	case VerdictUsable:
		ok := pick(VerdictUsable)
		if anyPrincipal && ok[0].Principal == account {
			return "any principal of " + account + " allowed by IAM holds every required permission via FSx"
		}
		names := make([]string, len(ok))
		for i, pr := range ok {
			names[i] = name(pr)
		}
		verb := "holds"
		if len(ok) > 1 {
			verb = "each hold"
		}
		return joinBounded(names) + " " + verb + " every required permission via FSx"
	case VerdictUndecided:
		if anyPrincipal {
			return "no principal is known to hold every required permission via FSx: " + list(pick(VerdictUndecided), undecided)
		}
		return "not every listed principal is known to hold every required permission via FSx: " + list(pick(VerdictUndecided), undecided)
	}
	broken := pick(VerdictBroken)
	if anyPrincipal && len(ps) == 1 {
		return "no principal holds every required permission via FSx: " + list(broken, lacks)
	}
	if anyPrincipal {
		return "no single principal holds every required permission via FSx: " + list(broken, lacks)
	}
	return "a listed principal lacks a required permission via FSx: " + list(broken, lacks)
}

// combine merges the per-principal results for one permission.
func combine(perm *Permission, principals []string, results []Result, account string, anyPrincipal bool) {
	var allowed []string
	allowIdx, delegIdx, indetIdx, denyIdx := -1, -1, -1, -1
	for j, r := range results {
		switch r.Decision {
		case Allow:
			allowed = append(allowed, shortName(principals[j], account))
			if allowIdx < 0 {
				allowIdx = j
			}
		case DelegatedToIAM:
			if delegIdx < 0 {
				delegIdx = j
			}
		case Indeterminate:
			if indetIdx < 0 {
				indetIdx = j
			}
		case DenyExplicit:
			if denyIdx < 0 {
				denyIdx = j
			}
		}
	}
	set := func(j int, who string) {
		perm.Decision = results[j].Decision
		perm.Statements = results[j].Statements
		perm.Reason = results[j].Reason
		perm.Who = who
	}
	names := joinBounded(allowed)
	switch {
	case allowIdx == 0 && anyPrincipal:
		set(0, "any principal of "+account+" via FSx")
	case allowIdx >= 0 && len(allowed) == len(principals):
		set(allowIdx, names)
	case allowIdx >= 0 && anyPrincipal && results[0].Decision == DelegatedToIAM:
		set(allowIdx, names+"; others delegated to IAM")
		perm.Reason = shortName(principals[allowIdx], account) + ": " + perm.Reason
	case allowIdx >= 0:
		set(allowIdx, "only "+names)
		perm.Reason = shortName(principals[allowIdx], account) + ": " + perm.Reason
	case delegIdx >= 0:
		set(delegIdx, "delegated to IAM")
	case indetIdx >= 0:
		set(indetIdx, "undecided")
		if !anyPrincipal || indetIdx > 0 {
			perm.Reason = shortName(principals[indetIdx], account) + ": " + perm.Reason
		}
	default:
		first := max(denyIdx, 0)
		set(first, "nobody")
		// Say why for the first few other principals, not just the first.
		stmts := append([]string{}, perm.Statements...)
		shown := 0
		for j, r := range results {
			if j == first {
				continue
			}
			if shown == maxNamed {
				perm.Reason += fmt.Sprintf("; and %d more principal(s)", len(results)-1-shown)
				break
			}
			shown++
			perm.Reason += "; for " + shortName(principals[j], account) + ": " + r.Reason
			for _, n := range r.Statements {
				if !slices.Contains(stmts, n) {
					stmts = append(stmts, n)
				}
			}
		}
		perm.Statements = boundMerged(stmts)
	}
	if perm.Statements == nil {
		perm.Statements = []string{}
	}
}

// joinBounded joins the first maxNamed names and says how many more there are.
func joinBounded(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
}

// boundMerged bounds a statement list merged from several results, each
// already bounded by Evaluate ("(N more)" markers): the first maxStatements
// names, then one "(more)" marker when any name was left out.
func boundMerged(stmts []string) []string {
	names := make([]string, 0, min(len(stmts), maxStatements))
	more := false
	for _, s := range stmts {
		switch {
		case isMoreMarker(s):
			more = true
		case len(names) == maxStatements:
			more = true
		default:
			names = append(names, s)
		}
	}
	if more {
		names = append(names, "(more)")
	}
	return names
}

// isMoreMarker reports whether s is the "(N more)" entry Evaluate ends a
// bounded statement list with.
func isMoreMarker(s string) bool {
	n, ok := strings.CutPrefix(s, "(")
	if !ok {
		return false
	}
	if n, ok = strings.CutSuffix(n, " more)"); !ok || n == "" {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// covering lists the statements whose Action or NotAction covers action.
func (p *Policy) covering(action string) []int {
	out := make([]int, 0, len(p.statements))
	for i := range p.statements {
		if p.statements[i].matchAction(action) {
			out = append(out, i)
		}
	}
	return out
}

// namedPrincipals lists the IAM roles, users and role sessions of account
// that the policy names (in Principal or NotPrincipal), in document order.
func (p *Policy) namedPrincipals(account string) []string {
	var out []string
	seen := map[string]bool{}
	for i := range p.statements {
		for _, e := range p.statements[i].principal.aws {
			if e.account != account || seen[e.raw] {
				continue
			}
			if e.kind == pkRole || e.kind == pkUser || e.kind == pkSession {
				seen[e.raw] = true
				out = append(out, e.raw)
			}
		}
	}
	return out
}
