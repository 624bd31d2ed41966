package policy

import (
	"strings"
)

// RequiredActions are the KMS permissions Amazon FSx needs on a key.
var RequiredActions = []string{"kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant", "kms:DescribeKey"}

// OptionalActions are the KMS permissions Amazon FSx uses when present.
var OptionalActions = []string{"kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ListAliases"}

// FSxParams describes the FSx deployment a key serves.
type FSxParams struct {
	Account    string   // account that owns the FSx resources (kms:CallerAccount)
	Region     string   // kms:ViaService = fsx.<Region>.amazonaws.com
	KeyARN     string   // optional; aws:ResourceAccount comes from it, else Account
	Principals []string // optional principals that manage FSx; empty = consider any principal of Account plus every same-account principal the policy names
}

// Permission is the verdict for one KMS permission FSx uses.
type Permission struct {
	Action     string   `json:"action"`
	Required   bool     `json:"required"`
	Decision   Decision `json:"decision"`
	Who        string   `json:"who"` // "any principal of 111122223333 via FSx", "only role/FsxAdmin", "delegated to IAM", "nobody"
	Statements []string `json:"statements"`
	Reason     string   `json:"reason"`
}

// FSxResult is the outcome of CheckFSx.
type FSxResult struct {
	Permissions []Permission `json:"permissions"` // required ones first, in the order of RequiredActions then OptionalActions
	Usable      bool         `json:"usable"`      // every required permission is Allow or Delegated-to-IAM for some considered principal
}

// fsxContext is the request context of an FSx call to KMS on behalf of
// principal. CheckFSx treats every other condition key as unknown
// (Request.Unknown = "*").
//
// FSx calls KMS through a forward access session: the principal is the
// caller's IAM identity, kms:ViaService names FSx in the region, and
// aws:ViaAWSService is true.
func fsxContext(params FSxParams, principal, action string) map[string][]string {
	acct := params.Account
	if e := parsePrincipalEntry(principal); e.account != "" {
		acct = e.account
	}
	resAcct := params.Account
	if a, ok := parseARN(params.KeyARN); ok {
		resAcct = a.account
	}
	ctx := map[string][]string{
		"kms:ViaService":            {"fsx." + params.Region + ".amazonaws.com"},
		"kms:CallerAccount":         {acct},
		"aws:PrincipalAccount":      {acct},
		"aws:ResourceAccount":       {resAcct},
		"aws:ViaAWSService":         {"true"},
		"aws:PrincipalIsAWSService": {"false"},
	}
	if arn := principalARN(principal); arn != "" {
		ctx["aws:PrincipalArn"] = []string{arn}
	}
	if strings.EqualFold(action, "kms:CreateGrant") {
		ctx["kms:GrantIsForAWSResource"] = []string{"true"}
	}
	return ctx
}

// principalARN is the aws:PrincipalArn of a principal, or "" when it is
// unknown: for an account (any principal of it) and for a role session,
// whose aws:PrincipalArn is its role's ARN with the role's path, which the
// session ARN does not carry.
func principalARN(p string) string {
	e := parsePrincipalEntry(p)
	switch e.kind {
	case pkRole, pkUser:
		return p
	}
	return ""
}

// CheckFSx evaluates every permission FSx uses on the key in the context of
// an FSx request from params.Account in params.Region.
func CheckFSx(p *Policy, params FSxParams) FSxResult {
	principals := params.Principals
	anyPrincipal := len(principals) == 0
	if anyPrincipal {
		principals = append([]string{params.Account}, p.namedPrincipals(params.Account)...)
	}
	resource := params.KeyARN
	out := FSxResult{Usable: true}
	for i, action := range append(append([]string{}, RequiredActions...), OptionalActions...) {
		perm := Permission{Action: action, Required: i < len(RequiredActions)}
		results := make([]Result, len(principals))
		for j, pr := range principals {
			results[j] = p.Evaluate(Request{
				Principal: pr,
				Action:    action,
				Resource:  resource,
				Context:   fsxContext(params, pr, action),
				Unknown:   []string{"*"},
			})
		}
		combine(&perm, principals, results, params.Account, anyPrincipal)
		if perm.Required && perm.Decision != Allow && perm.Decision != DelegatedToIAM {
			out.Usable = false
		}
		out.Permissions = append(out.Permissions, perm)
	}
	return out
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
	switch {
	case allowIdx == 0 && anyPrincipal:
		set(0, "any principal of "+account+" via FSx")
	case allowIdx >= 0 && len(allowed) == len(principals):
		set(allowIdx, strings.Join(allowed, ", "))
	case allowIdx >= 0 && anyPrincipal && results[0].Decision == DelegatedToIAM:
		set(allowIdx, strings.Join(allowed, ", ")+"; others delegated to IAM")
		perm.Reason = shortName(principals[allowIdx], account) + ": " + perm.Reason
	case allowIdx >= 0:
		set(allowIdx, "only "+strings.Join(allowed, ", "))
		perm.Reason = shortName(principals[allowIdx], account) + ": " + perm.Reason
	case delegIdx >= 0:
		set(delegIdx, "delegated to IAM")
	case indetIdx >= 0:
		set(indetIdx, "undecided")
		if !anyPrincipal || indetIdx > 0 {
			perm.Reason = shortName(principals[indetIdx], account) + ": " + perm.Reason
		}
	default:
		first := 0
		if denyIdx >= 0 {
			first = denyIdx
		}
		set(first, "nobody")
		// Say why for every considered principal, not just the first.
		stmts := append([]string{}, perm.Statements...)
		for j, r := range results {
			if j == first {
				continue
			}
			perm.Reason += "; for " + shortName(principals[j], account) + ": " + r.Reason
			for _, n := range r.Statements {
				if !contains(stmts, n) {
					stmts = append(stmts, n)
				}
			}
		}
		perm.Statements = stmts
	}
	if perm.Statements == nil {
		perm.Statements = []string{}
	}
}

// namedPrincipals lists the IAM roles, users and role sessions of account
// that the policy names (in Principal or NotPrincipal), in document order.
func (p *Policy) namedPrincipals(account string) []string {
	var out []string
	seen := map[string]bool{}
	for i := range p.Statements {
		s := &p.Statements[i]
		for _, pr := range []*Principals{s.Principal, s.NotPrincipal} {
			if pr == nil {
				continue
			}
			for _, e := range pr.aws {
				if e.account != account || seen[e.raw] {
					continue
				}
				if e.kind == pkRole || e.kind == pkUser || e.kind == pkSession {
					seen[e.raw] = true
					out = append(out, e.raw)
				}
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
