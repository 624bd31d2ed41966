package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Decision is the outcome of evaluating a request against a key policy.
type Decision string

// The decisions Evaluate returns.
const (
	// Allow: the key policy itself allows the request.
	Allow Decision = "Allow"
	// DenyExplicit: a Deny statement applies.
	DenyExplicit Decision = "Deny-explicit"
	// DenyImplicit: no statement allows the request.
	DenyImplicit Decision = "Deny-implicit"
	// DelegatedToIAM: the key policy lets IAM policies decide (it names the
	// caller's account, the caller is in another account, or the action is
	// IAM-only such as kms:ListAliases).
	DelegatedToIAM Decision = "Delegated-to-IAM"
	// Indeterminate: the outcome depends on something the evaluator cannot
	// decide (an unknown operator or a condition key of unknown value).
	Indeterminate Decision = "Indeterminate"
)

// Request is one KMS API call to evaluate.
type Request struct {
	Principal string              // ARN of the calling principal (or account id)
	Action    string              // e.g. "kms:Decrypt"
	Resource  string              // key ARN; empty means "this key" (key policies use Resource "*")
	Context   map[string][]string // condition keys (case-insensitive) -> values

	// Absent lists condition keys (case-insensitive, '*' and '?' wildcards)
	// that the request is known not to carry, even when Unknown would match
	// them: a condition on such a key is decided as for a missing key.
	Absent []string

	// Unknown lists condition keys (case-insensitive, '*' and '?' wildcards)
	// whose request value the caller cannot know. A condition on a key that
	// is in Unknown and neither in Context nor in Absent is undecidable. "*"
	// marks every key missing from Context and Absent as unknown rather than
	// absent.
	Unknown []string

	// layers are further context maps with lower-case keys, consulted after
	// Context: CheckFSx shares one map per request property among many
	// requests instead of building a map for each.
	layers []map[string][]string
	// absent are further Absent lists (CheckFSx shares them the same way).
	absent [][]string
}

// lookup finds a condition key in the request: its values, whether it is
// present, and whether its value is unknown. lower is key in lower case, or
// "" to have lookup compute it.
func (r *Request) lookup(key, lower string) (vals []string, present, unknown bool) {
	if v, ok := r.Context[key]; ok {
		return v, true, false
	}
	for k, v := range r.Context {
		if strings.EqualFold(k, key) {
			return v, true, false
		}
	}
	if len(r.layers) > 0 {
		if lower == "" {
			lower = strings.ToLower(key)
		}
		for _, m := range r.layers {
			if v, ok := m[lower]; ok {
				return v, true, false
			}
		}
	}
	for _, a := range r.Absent {
		if wildcard(a, key, true) {
			return nil, false, false
		}
	}
	for _, list := range r.absent {
		for _, a := range list {
			if wildcard(a, key, true) {
				return nil, false, false
			}
		}
	}
	for _, u := range r.Unknown {
		if wildcard(u, key, true) {
			return nil, false, true
		}
	}
	return nil, false, false
}

// Result is the decision for one request, with the statements that decided it.
type Result struct {
	Decision   Decision `json:"decision"`
	Statements []string `json:"statements"` // Sid, or "#<index>" when the statement has no Sid
	Reason     string   `json:"reason"`
}

// iamOnly lists actions a key policy can neither allow nor deny.
var iamOnly = []string{
	"kms:ListAliases", "kms:ListKeys", "kms:CreateKey", "kms:GenerateRandom", "kms:ListRetirableGrants",
	"kms:CreateCustomKeyStore", "kms:ConnectCustomKeyStore", "kms:DeleteCustomKeyStore",
	"kms:DescribeCustomKeyStores", "kms:DisconnectCustomKeyStore", "kms:UpdateCustomKeyStore",
}

// IAMOnly reports whether action is controlled by IAM policies alone.
func IAMOnly(action string) bool {
	for _, a := range iamOnly {
		if strings.EqualFold(a, action) {
			return true
		}
	}
	return false
}

// stage is where a statement stopped applying to a request.
type stage uint8

const (
	stNoResourceElement stage = iota + 1
	stAction
	stPrincipal
	stResource
	stCondition
)

// outcome is what one statement does for one request.
type outcome struct {
	st        *Statement
	applies   tri
	delegated bool  // an Allow that only lets IAM decide
	stage     stage // why it does not apply (or may not)
	cond      int   // index of the deciding condition for stCondition
}

// Evaluate decides r against the key policy. It never fails: constructs it
// cannot decide make the result Indeterminate (or, for a Deny that may apply
// when nothing allows the request, Deny-implicit).
func (p *Policy) Evaluate(r Request) Result {
	return p.evaluate(r, nil)
}

// evaluate is Evaluate over the statements whose indexes are in only, or
// over every statement when only is nil. CheckFSx passes the statements
// that cover the action, so that each of many principals skips the rest.
func (p *Policy) evaluate(r Request, only []int) Result {
	if IAMOnly(r.Action) {
		return Result{Decision: DelegatedToIAM, Statements: []string{},
			Reason: r.Action + " is controlled by IAM policies only; a key policy can neither allow nor deny it"}
	}
	caller := parsePrincipalEntry(r.Principal)
	if caller.kind == pkAny {
		caller.kind = pkOther
	}
	resAccount := r.resourceAccount()
	vars := p.version == "2012-10-17"

	// Classify each statement once; keep, per class, how many there are,
	// the first few (to explain) and a bounded list of names.
	var classes [nClasses]class
	n := len(p.statements)
	if only != nil {
		n = len(only)
	}
	for k := 0; k < n; k++ {
		i := k
		if only != nil {
			i = only[k]
		}
		o := p.statements[i].apply(&r, &caller, resAccount, vars, only != nil)
		if o.stage == stAction || o.stage == stNoResourceElement {
			continue // does not concern this action: not worth reporting
		}
		classes[o.class()].add(o)
	}
	deny, mayDeny := &classes[clDeny], &classes[clMayDeny]
	allow, delegated, mayAllow, miss := &classes[clAllow], &classes[clDelegated], &classes[clMayAllow], &classes[clMiss]

	switch {
	case deny.n > 0:
		return Result{DenyExplicit, deny.statements(), deny.first[0].describe(&r)}
	case mayDeny.n > 0 && allow.n+delegated.n+mayAllow.n > 0:
		return Result{Indeterminate, mayDeny.statements(), mayDeny.first[0].describe(&r)}
	case mayDeny.n > 0:
		return Result{DenyImplicit, mayDeny.statements(),
			"no statement allows " + r.Action + "; " + mayDeny.first[0].describe(&r)}
	case allow.n > 0:
		return Result{Allow, allow.statements(), allow.first[0].describe(&r)}
	case delegated.n > 0:
		reason := delegated.first[0].describe(&r)
		if mayAllow.n > 0 {
			reason += "; " + mayAllow.first[0].describe(&r)
		}
		return Result{DelegatedToIAM, delegated.statements(), reason}
	case mayAllow.n > 0:
		return Result{Indeterminate, mayAllow.statements(), mayAllow.first[0].describe(&r)}
	}
	// Implicit deny: name the Allow statements that cover the action but did
	// not apply, and why.
	var b strings.Builder
	b.WriteString("no statement allows " + r.Action + " for " + principalText(r.Principal))
	for i := 0; i < miss.n && i < maxExplained; i++ {
		b.WriteString("; ")
		b.WriteString(miss.first[i].describe(&r))
	}
	if miss.n > maxExplained {
		fmt.Fprintf(&b, "; and %d more statement(s) that do not apply", miss.n-maxExplained)
	}
	return Result{DenyImplicit, miss.statements(), b.String()}
}

// classKind is a class of statement outcomes Evaluate decides from.
type classKind uint8

// The classes, indexes of Evaluate's per-class tallies.
const (
	clDeny      classKind = iota // a Deny that applies
	clMayDeny                    // a Deny that may apply
	clAllow                      // an Allow that applies
	clDelegated                  // an Allow that applies but only lets IAM decide
	clMayAllow                   // an Allow that may apply
	clMiss                       // an Allow that does not apply
	clNone                       // a Deny that does not apply
	nClasses
)

func (o *outcome) class() classKind {
	deny := o.st.effect == EffectDeny
	switch {
	case deny && o.applies == yes:
		return clDeny
	case deny && o.applies == maybe:
		return clMayDeny
	case deny:
		return clNone
	case o.applies == yes && o.delegated:
		return clDelegated
	case o.applies == yes:
		return clAllow
	case o.applies == maybe:
		return clMayAllow
	}
	return clMiss
}

// class collects the statements of one class, in document order: their
// number, the first maxExplained outcomes and the first maxStatements names.
type class struct {
	n     int
	first [maxExplained]outcome
	names []string
}

func (c *class) add(o outcome) {
	if c.n < maxExplained {
		c.first[c.n] = o
	}
	if c.n < maxStatements {
		c.names = append(c.names, o.st.Name())
	}
	c.n++
}

// statements names the class's statements: at most maxStatements names,
// then "(N more)". It never returns nil.
func (c *class) statements() []string {
	if c.n > maxStatements {
		return append(c.names, "("+strconv.Itoa(c.n-maxStatements)+" more)")
	}
	if c.names == nil {
		return []string{}
	}
	return c.names
}

// maxExplained is how many statements a reason describes before it says
// "and N more": a reason stays short however many statements a policy has.
const maxExplained = 3

// resourceAccount is the key's account: from the key ARN, else from
// aws:ResourceAccount, else "" (unknown, treated as the caller's).
func (r *Request) resourceAccount() string {
	if a, ok := parseARN(r.Resource); ok {
		return a.account
	}
	if v, ok, _ := r.lookup("aws:ResourceAccount", "aws:resourceaccount"); ok && len(v) == 1 {
		return v[0]
	}
	return ""
}

// apply decides whether statement s applies to r. covered says the caller
// already knows that s covers r.Action (CheckFSx's covering).
func (s *Statement) apply(r *Request, caller *principalEntry, resAccount string, vars, covered bool) outcome {
	o := outcome{st: s, applies: no}
	if !s.hasResource {
		o.stage = stNoResourceElement // KMS: a statement without Resource has no effect
		return o
	}
	if !covered && !s.matchAction(r.Action) {
		o.stage = stAction
		return o
	}
	pm, viaAccount := s.matchPrincipal(caller)
	if !pm {
		o.stage = stPrincipal
		return o
	}
	crossAccount := resAccount != "" && caller.account != "" && caller.account != resAccount
	o.delegated = s.effect == EffectAllow && (viaAccount || crossAccount)
	rm := s.matchResource(r, vars)
	if rm == no {
		o.stage = stResource
		return o
	}
	res := rm
	if rm == maybe {
		o.stage = stResource
	}
	for i := range s.conditions {
		switch s.conditions[i].eval(r, vars) {
		case no:
			o.stage, o.cond = stCondition, i
			return o
		case maybe:
			if res == yes {
				o.stage, o.cond = stCondition, i
			}
			res = maybe
		}
	}
	o.applies = res
	return o
}

func (s *Statement) matchAction(action string) bool {
	for _, a := range s.actions {
		if wildcard(a, action, true) {
			return !s.notAction
		}
	}
	return s.notAction
}

// matchPrincipal reports whether the statement's Principal (or NotPrincipal)
// covers the caller, and whether it does so only by naming the caller's account.
func (s *Statement) matchPrincipal(c *principalEntry) (ok, viaAccount bool) {
	if !s.notPrincipal {
		p := s.principal
		matched := false
		for i := range p.aws {
			if m, acct := p.aws[i].covers(c); m {
				if !acct {
					return true, false
				}
				matched = true
			}
		}
		if matched {
			return true, true
		}
		if c.kind == pkService {
			for _, sv := range p.service {
				if strings.EqualFold(sv, c.raw) {
					return true, false
				}
			}
		}
		for _, list := range [][]string{p.federated, p.canonicalUser} {
			if slices.Contains(list, c.raw) {
				return true, false
			}
		}
		return false, false
	}
	// NotPrincipal: the caller counts as its session, its role and its
	// account; the statement applies unless every one of them is listed.
	np := s.principal
	listed := func(match func(e *principalEntry) bool) bool {
		for i := range np.aws {
			if np.aws[i].kind == pkAny || match(&np.aws[i]) {
				return true
			}
		}
		return false
	}
	switch c.kind {
	case pkService:
		for _, sv := range np.service {
			if strings.EqualFold(sv, c.raw) {
				return false, false
			}
		}
		return true, false
	case pkOther:
		// A federated user (an ARN with an account) also counts as its account.
		if c.account != "" && !listed(func(e *principalEntry) bool { return e.kind == pkAccount && e.account == c.account }) {
			return true, false
		}
		for _, list := range [][]string{np.federated, np.canonicalUser} {
			for _, v := range list {
				if v == c.raw || v == "*" {
					return false, false
				}
			}
		}
		if listed(func(e *principalEntry) bool { return e.raw == c.raw }) {
			return false, false
		}
		return true, false
	}
	if c.kind == pkAccount {
		// Any principal of the account: one that is not listed exists
		// unless the list holds "*".
		return !listed(func(*principalEntry) bool { return false }), false
	}
	if !listed(func(e *principalEntry) bool { return e.kind == pkAccount && e.account == c.account }) {
		return true, false
	}
	switch c.kind {
	case pkRole, pkUser:
		return !listed(func(e *principalEntry) bool { return e.raw == c.raw }), false
	case pkSession:
		if !listed(func(e *principalEntry) bool { return e.raw == c.raw }) {
			return true, false
		}
		return !listed(func(e *principalEntry) bool {
			return e.kind == pkRole && e.account == c.account && e.name == c.name
		}), false
	}
	return false, false
}

// matchResource matches the statement's Resource or NotResource against the
// request's key. With no key ARN in the request, "*" matches and a pattern
// whose literal service field is not "kms" cannot match; others are maybe.
func (s *Statement) matchResource(r *Request, vars bool) tri {
	res := no
	for _, pat := range s.resources {
		m := resourceMatch(pat, r, vars)
		if m == yes {
			res = yes
			break
		}
		if m == maybe {
			res = maybe
		}
	}
	if !s.notResource || res == maybe {
		return res
	}
	return triOf(res == no)
}

func resourceMatch(pat string, r *Request, vars bool) tri {
	if pat == "*" {
		return yes
	}
	if vars && strings.Contains(pat, "${") {
		var st tri
		if pat, st = substitute(pat, r, true); st != yes {
			return st
		}
	}
	if r.Resource != "" {
		return triOf(wildcard(pat, r.Resource, false))
	}
	// Unknown key ARN: decide only when the pattern cannot name a KMS key.
	_, rest, _ := arnField(pat)
	_, rest, _ = arnField(rest)
	svc, _, ok := arnField(rest)
	if !strings.HasPrefix(pat, "arn:") || (ok && !strings.ContainsAny(svc, "*?") && svc != "kms") {
		return no
	}
	return maybe
}

// describe writes a sentence about what the statement does for r.
func (o *outcome) describe(r *Request) string {
	s := o.st
	var b strings.Builder
	b.WriteString("statement ")
	b.WriteString(s.label())
	switch {
	case o.applies == yes && s.effect == EffectDeny:
		b.WriteString(" denies " + r.Action + " to " + principalText(r.Principal))
	case o.applies == yes && o.delegated:
		b.WriteString(" allows " + r.Action + " to " + s.principalText() + ", so IAM policies decide for " + principalText(r.Principal))
	case o.applies == yes:
		b.WriteString(" allows " + r.Action + " to " + s.principalText())
	case o.applies == maybe:
		if s.effect == EffectDeny {
			b.WriteString(" may deny " + r.Action)
		} else {
			b.WriteString(" may allow " + r.Action)
		}
		b.WriteString(": ")
		b.WriteString(o.undecided(r))
		return b.String()
	default:
		b.WriteString(" does not apply: ")
		b.WriteString(o.miss(r))
		return b.String()
	}
	if len(s.conditions) > 0 {
		b.WriteString(" when ")
		for i := range s.conditions {
			if i > 0 {
				b.WriteString(" and ")
			}
			c := &s.conditions[i]
			vals, present, _ := r.lookup(c.key, c.lkey)
			if present {
				b.WriteString(c.key + "=" + strings.Join(vals, ","))
			} else {
				b.WriteString(c.key + " is absent")
			}
		}
	}
	return b.String()
}

func (o *outcome) undecided(r *Request) string {
	if o.stage == stResource {
		return "its Resource " + quoteList(o.st.resources) + " may or may not name this key (no key ARN given)"
	}
	c := &o.st.conditions[o.cond]
	if c.base == opUnknown {
		return "condition operator " + strconv.Quote(c.operator) + " is not one the evaluator knows"
	}
	if _, present, unknown := r.lookup(c.key, c.lkey); unknown && !present {
		return "its condition " + c.operator + " on " + c.key + " depends on a value the request does not reveal"
	}
	return "its condition " + c.operator + " " + c.key + " " + quoteList(c.values) + " cannot be decided (a value does not parse or a policy variable is unknown)"
}

func (o *outcome) miss(r *Request) string {
	s := o.st
	switch o.stage {
	case stPrincipal:
		return "its principal " + s.principalText() + " does not cover " + principalText(r.Principal)
	case stResource:
		return "its Resource " + quoteList(s.resources) + " does not name this key"
	case stCondition:
		c := &s.conditions[o.cond]
		vals, present, _ := r.lookup(c.key, c.lkey)
		got := "the key is absent"
		if present {
			got = "the request has " + quoteList(vals)
		}
		return "it requires " + c.operator + " " + c.key + " " + quoteList(c.values) + " and " + got
	}
	return "it does not cover " + r.Action
}

func (s *Statement) principalText() string {
	if s.notPrincipal {
		return "every principal except " + s.principal.text()
	}
	return s.principal.text()
}

func (p *principals) text() string {
	var parts []string
	for _, e := range p.aws {
		switch e.kind {
		case pkAny:
			parts = append(parts, `any principal ("*")`)
		case pkAccount:
			parts = append(parts, "account "+e.account)
		default:
			parts = append(parts, e.raw)
		}
	}
	parts = append(parts, p.service...)
	parts = append(parts, p.federated...)
	parts = append(parts, p.canonicalUser...)
	return strings.Join(parts, ", ")
}

func principalText(p string) string {
	e := parsePrincipalEntry(p)
	if e.kind == pkAccount {
		return "principals of account " + e.account
	}
	if p == "" {
		return "an unnamed principal"
	}
	return p
}

func quoteList(v []string) string {
	if len(v) == 1 {
		return strconv.Quote(v[0])
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
