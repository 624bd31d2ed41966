// Package policy parses AWS KMS key policies and evaluates requests against
// them the way AWS KMS does, and checks whether Amazon FSx can still use a key.
//
// Evaluation follows the IAM policy evaluation logic as it applies to key
// policies: an explicit Deny wins, then an Allow, else the request is
// implicitly denied. A statement that names the account (arn:aws:iam::A:root
// or "A") delegates the decision to IAM policies. Anything the evaluator
// cannot decide (an unknown condition operator, a condition key whose value
// is unknown) yields Indeterminate; an undecidable Deny is never read as
// "no deny".
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest key policy AWS KMS accepts, in bytes.
const MaxSize = 32768

// Policy is a parsed key policy document. Only Parse makes one: it has no
// exported fields, so nobody can build a policy that skips what Parse
// checks and precomputes. The zero Policy has no statements.
type Policy struct {
	version    string      // "2012-10-17", "2008-10-17" or "" (absent)
	id         string      // the optional Id element
	statements []Statement // in document order
}

// Version returns the policy language version: "2012-10-17", "2008-10-17",
// or "" when the document has no Version element.
func (p *Policy) Version() string { return p.version }

// ID returns the document's optional Id element.
func (p *Policy) ID() string { return p.id }

// Statements returns the statements in document order. The slice is a copy.
func (p *Policy) Statements() []Statement { return slices.Clone(p.statements) }

// Effect is a statement's Effect element.
type Effect string

// The two effects a statement can have.
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

// Statement is one statement of a key policy, as Parse read it. Its
// elements are unexported: Evaluate depends on what Parse derives from them.
type Statement struct {
	index  int    // position in the Statement array, from 0
	sid    string // may be empty
	effect Effect

	principal    *principals // the Principal or, with notPrincipal, NotPrincipal element
	notPrincipal bool

	actions   []string // the Action or, with notAction, NotAction patterns
	notAction bool

	resources   []string // the Resource or, with notResource, NotResource patterns
	hasResource bool     // Resource or NotResource present
	notResource bool

	conditions []condition // ANDed
}

// Index returns the statement's position in the Statement array, from 0.
func (s *Statement) Index() int { return s.index }

// Sid returns the statement's Sid, or "" when it has none.
func (s *Statement) Sid() string { return s.sid }

// Effect returns the statement's effect.
func (s *Statement) Effect() Effect { return s.effect }

// Name returns the statement's Sid, or "#<index>" when it has none.
func (s *Statement) Name() string {
	if s.sid != "" {
		return s.sid
	}
	return "#" + strconv.Itoa(s.index)
}

// label returns the statement as a reader sees it: `"Sid" (#2)` or `#2`.
func (s *Statement) label() string {
	if s.sid != "" {
		return strconv.Quote(s.sid) + " (#" + strconv.Itoa(s.index) + ")"
	}
	return "#" + strconv.Itoa(s.index)
}

// principals is the value of a Principal or NotPrincipal element.
type principals struct {
	aws           []principalEntry // "*", account ids and IAM/STS ARNs, parsed
	service       []string
	federated     []string
	canonicalUser []string
}

// condition is one (operator, key, values) triple of a Condition block.
type condition struct {
	operator string   // as written, e.g. "ForAnyValue:StringLikeIfExists"
	key      string   // as written, e.g. "kms:ViaService"
	values   []string // numbers and booleans in their JSON text form

	lkey     string // key in lower case
	base     opKind // opUnknown for an operator the evaluator does not know
	negated  bool
	set      setKind
	ifExists bool
	vars     bool // some value holds a policy variable and Version allows them
}

// ParseError is returned by Parse; it says where in the document and why.
type ParseError struct {
	Statement int    // index of the statement, -1 for the document level
	Sid       string // the statement's Sid, if known
	Field     string // the element, e.g. "Condition.StringEquals.kms:ViaService"
	Err       error
}

// Error describes the problem: "key policy: statement #2 (Sid \"X\"): Action: ...".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("key policy")
	if e.Statement >= 0 {
		fmt.Fprintf(&b, ": statement #%d", e.Statement)
		if e.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", e.Sid)
		}
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse decodes and validates a key policy document. Errors are *ParseError
// values naming the statement (index and Sid) and element at fault.
func Parse(doc []byte) (*Policy, error) {
	docErr := func(field string, err error) error {
		return &ParseError{Statement: -1, Field: field, Err: err}
	}
	if len(doc) > MaxSize {
		return nil, docErr("", fmt.Errorf("document is %d bytes; the limit is %d", len(doc), MaxSize))
	}
	if err := checkChars(doc); err != nil {
		return nil, docErr("", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, docErr("", jsonError(doc, err))
	}
	if err := checkDuplicateKeys(doc); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, docErr("", errors.New("document is null; want a JSON object"))
	}
	if err := knownFields(top, "Version", "Id", "Statement"); err != nil {
		return nil, docErr("", err)
	}
	p := &Policy{}
	if raw, ok := top["Version"]; ok {
		if err := json.Unmarshal(raw, &p.version); err != nil {
			return nil, docErr("Version", fmt.Errorf("want a string, got %s", jsonKind(raw)))
		}
		if p.version != "2012-10-17" && p.version != "2008-10-17" {
			return nil, docErr("Version", fmt.Errorf("%q is not a policy language version (want 2012-10-17 or 2008-10-17)", p.version))
		}
	}
	if raw, ok := top["Id"]; ok {
		if err := json.Unmarshal(raw, &p.id); err != nil {
			return nil, docErr("Id", fmt.Errorf("want a string, got %s", jsonKind(raw)))
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, docErr("Statement", errors.New("missing; a key policy needs at least one statement"))
	}
	var list []json.RawMessage
	switch firstByte(raw) {
	case '{':
		list = []json.RawMessage{raw}
	case '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, docErr("Statement", jsonError(raw, err))
		}
	default:
		return nil, docErr("Statement", fmt.Errorf("want an object or an array of objects, got %s", jsonKind(raw)))
	}
	if len(list) == 0 {
		return nil, docErr("Statement", errors.New("empty; a key policy needs at least one statement"))
	}
	vars := p.version == "2012-10-17"
	p.statements = make([]Statement, len(list))
	for i, r := range list {
		if err := parseStatement(&p.statements[i], i, r, vars); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func parseStatement(s *Statement, i int, raw json.RawMessage, vars bool) error {
	s.index = i
	fail := func(field string, err error) error {
		return &ParseError{Statement: i, Sid: s.sid, Field: field, Err: err}
	}
	if firstByte(raw) != '{' {
		return fail("", fmt.Errorf("want an object, got %s", jsonKind(raw)))
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return fail("", jsonError(raw, err))
	}
	if r, ok := f["Sid"]; ok {
		if err := json.Unmarshal(r, &s.sid); err != nil {
			return fail("Sid", fmt.Errorf("want a string, got %s", jsonKind(r)))
		}
	}
	if err := knownFields(f, "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
		"Resource", "NotResource", "Condition"); err != nil {
		return fail("", err)
	}
	r, ok := f["Effect"]
	if !ok {
		return fail("Effect", errors.New("missing; want \"Allow\" or \"Deny\""))
	}
	if err := json.Unmarshal(r, &s.effect); err != nil || (s.effect != EffectAllow && s.effect != EffectDeny) {
		return fail("Effect", fmt.Errorf("want \"Allow\" or \"Deny\", got %s", bytes.TrimSpace(r)))
	}

	var err error
	if s.principal, s.notPrincipal, _, err = element(f, "Principal", "NotPrincipal",
		"missing; a key policy statement must name a Principal or NotPrincipal", parsePrincipals, fail); err != nil {
		return err
	}
	if s.actions, s.notAction, _, err = element(f, "Action", "NotAction",
		"missing; a statement needs Action or NotAction", stringOrList, fail); err != nil {
		return err
	}
	// No Resource element means the statement has no effect.
	if s.resources, s.notResource, s.hasResource, err = element(f, "Resource", "NotResource", "", stringOrList, fail); err != nil {
		return err
	}

	if rc, ok := f["Condition"]; ok {
		c, err := parseConditions(rc, vars)
		if err != nil {
			if pe, ok := errors.AsType[*ParseError](err); ok {
				pe.Statement, pe.Sid = i, s.sid
				return pe
			}
			return fail("Condition", err)
		}
		s.conditions = c
	}
	return nil
}

// element reads the statement element name or its negation notName with
// parse: the value, whether it is the negation and whether either is
// present. A statement cannot have both; nor neither, unless missing (the
// error for that) is "".
func element[T any](f map[string]json.RawMessage, name, notName, missing string,
	parse func(json.RawMessage) (T, error), fail func(field string, err error) error) (v T, not, present bool, err error) {
	raw, has := f[name]
	rawNot, hasNot := f[notName]
	field := name
	switch {
	case has && hasNot:
		return v, false, false, fail(notName, fmt.Errorf("a statement cannot have both %s and %s", name, notName))
	case hasNot:
		raw, field, not = rawNot, notName, true
	case !has && missing != "":
		return v, false, false, fail(name, errors.New(missing))
	case !has:
		return v, false, false, nil
	}
	if v, err = parse(raw); err != nil {
		return v, false, false, fail(field, err)
	}
	return v, not, true, nil
}

func parsePrincipals(raw json.RawMessage) (*principals, error) {
	p := &principals{}
	var aws []string
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, jsonError(raw, err)
		}
		if s != "*" {
			return nil, fmt.Errorf("a string principal must be \"*\", got %q; use {\"AWS\": %q}", s, s)
		}
		aws = []string{"*"}
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, jsonError(raw, err)
		}
		if len(m) == 0 {
			return nil, errors.New("empty object; name at least one principal")
		}
		if err := knownFields(m, "AWS", "Service", "Federated", "CanonicalUser"); err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(m) {
			v, err := stringOrList(m[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty; name at least one principal", k)
			}
			switch k {
			case "AWS":
				aws = v
			case "Service":
				p.service = v
			case "Federated":
				p.federated = v
			case "CanonicalUser":
				p.canonicalUser = v
			}
		}
	default:
		return nil, fmt.Errorf("want \"*\" or an object such as {\"AWS\": ...}, got %s", jsonKind(raw))
	}
	p.aws = make([]principalEntry, len(aws))
	for i, a := range aws {
		p.aws[i] = parsePrincipalEntry(a)
	}
	return p, nil
}

func parseConditions(raw json.RawMessage, vars bool) ([]condition, error) {
	if firstByte(raw) != '{' {
		return nil, fmt.Errorf("want an object of operators, got %s", jsonKind(raw))
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, jsonError(raw, err)
	}
	if err := caseDuplicates(ops); err != nil {
		return nil, err
	}
	var out []condition
	for _, op := range sortedKeys(ops) {
		field := "Condition." + op
		body := ops[op]
		if firstByte(body) != '{' {
			return nil, &ParseError{Field: field, Err: fmt.Errorf("want an object of condition keys, got %s", jsonKind(body))}
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil {
			return nil, &ParseError{Field: field, Err: jsonError(body, err)}
		}
		if err := caseDuplicates(keys); err != nil {
			return nil, &ParseError{Field: field, Err: err}
		}
		base, negated, set, ifExists := parseOperator(op)
		for _, k := range sortedKeys(keys) {
			vals, err := conditionValues(keys[k])
			if err != nil {
				return nil, &ParseError{Field: field + "." + k, Err: err}
			}
			if base == opNull && ifExists {
				return nil, &ParseError{Field: field, Err: errors.New("the Null operator cannot take IfExists")}
			}
			c := condition{operator: op, key: k, lkey: strings.ToLower(k), values: vals, base: base, negated: negated, set: set, ifExists: ifExists}
			if vars && base.takesVariables() {
				for _, v := range vals {
					if strings.Contains(v, "${") {
						c.vars = true
					}
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues accepts a string, number or boolean, or an array of them.
func conditionValues(raw json.RawMessage) ([]string, error) {
	one := func(r json.RawMessage) (string, error) {
		r = bytes.TrimSpace(r)
		switch c := firstByte(r); {
		case c == '"':
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return "", jsonError(r, err)
			}
			return s, checkChars([]byte(s))
		case c == 't' || c == 'f':
			var b bool
			if err := json.Unmarshal(r, &b); err != nil {
				return "", jsonError(r, err)
			}
			return strconv.FormatBool(b), nil
		case c == '-' || (c >= '0' && c <= '9'):
			var n json.Number
			if err := json.Unmarshal(r, &n); err != nil {
				return "", jsonError(r, err)
			}
			return n.String(), nil
		default:
			return "", fmt.Errorf("want a string, number or boolean, got %s", jsonKind(r))
		}
	}
	if firstByte(raw) == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, jsonError(raw, err)
		}
		out := make([]string, len(list))
		for i, r := range list {
			v, err := one(r)
			if err != nil {
				return nil, fmt.Errorf("value %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	v, err := one(raw)
	if err != nil {
		return nil, err
	}
	return []string{v}, nil
}

// stringOrList decodes a string or an array of strings.
func stringOrList(raw json.RawMessage) ([]string, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, jsonError(raw, err)
		}
		if err := checkChars([]byte(s)); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, jsonError(raw, err)
		}
		out := make([]string, len(list))
		for i, r := range list {
			if firstByte(r) != '"' {
				return nil, fmt.Errorf("element %d: want a string, got %s", i, jsonKind(r))
			}
			if err := json.Unmarshal(r, &out[i]); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, jsonError(r, err))
			}
			if err := checkChars([]byte(out[i])); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("want a string or an array of strings, got %s", jsonKind(raw))
	}
}

func knownFields(m map[string]json.RawMessage, known ...string) error {
	for _, k := range sortedKeys(m) {
		ok := slices.Contains(known, k)
		if ok {
			continue
		}
		for _, want := range known {
			if strings.EqualFold(k, want) {
				return fmt.Errorf("unknown element %q (element names are case-sensitive: did you mean %q?)", k, want)
			}
		}
		return fmt.Errorf("unknown element %q (want one of %s)", k, strings.Join(known, ", "))
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func firstByte(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

func jsonKind(raw []byte) string {
	switch c := firstByte(raw); {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "nothing"
}

// jsonError turns a JSON syntax error into one that gives line and column.
func jsonError(doc []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line, col := lineCol(doc, se.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		line, col := lineCol(doc, te.Offset)
		return fmt.Errorf("want %s at line %d, column %d, got JSON %s", te.Type, line, col, te.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func lineCol(doc []byte, off int64) (line, col int) {
	if off > int64(len(doc)) {
		off = int64(len(doc))
	}
	line, col = 1, 1
	for _, c := range doc[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// checkChars enforces KMS's character set for key policies: printable ASCII,
// the printable Latin-1 supplement, tab, line feed and carriage return.
// Parse applies it to the document and to decoded strings, so a JSON escape
// such as \u0000 cannot smuggle in a control character (NUL also escapes
// wildcards internally, see wildcard).
func checkChars(doc []byte) error {
	for i := 0; i < len(doc); {
		r, w := utf8.DecodeRune(doc[i:])
		switch {
		case r == utf8.RuneError && w <= 1:
			return fmt.Errorf("byte offset %d: not valid UTF-8", i)
		case r == '\t' || r == '\n' || r == '\r', r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		default:
			return fmt.Errorf("byte offset %d: character %U is not allowed in a key policy (printable ASCII and Latin-1, tab, LF, CR only)", i, r)
		}
		i += w
	}
	return nil
}

// checkDuplicateKeys rejects a document in which an object repeats a key.
// encoding/json keeps the last one; AWS does not document which one it
// uses, so a duplicate is an error rather than a silent drop (a dropped
// Deny condition could hide a deny). The document is valid JSON.
func checkDuplicateKeys(doc []byte) error {
	// One pass over the tokens, with a stack of the open objects and arrays:
	// linear in the document, however deeply it nests.
	type frame struct {
		object    bool
		seen      map[string]bool // object keys so far
		key       string          // object: the current key
		index     int             // array: the current element
		expectKey bool            // object: the next string is a key
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack[:len(stack)-1] {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	// begin and end mark a value starting and ending in the innermost frame.
	begin := func() {
		if n := len(stack); n > 0 && !stack[n-1].object {
			stack[n-1].index++
		}
	}
	end := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // end of input; syntax errors are reported by the decoder proper
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				begin()
				stack = append(stack, frame{object: t == '{', seen: map[string]bool{}, index: -1, expectKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				end()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				f := &stack[n-1]
				if f.seen[t] {
					return duplicateError(path(), t)
				}
				f.seen[t], f.key, f.expectKey = true, t, false
				continue
			}
			begin()
			end()
		default:
			begin()
			end()
		}
	}
}

// duplicateError builds the ParseError for a repeated key at path, naming
// the statement when the path is inside Statement.
func duplicateError(path, key string) error {
	pe := &ParseError{Statement: -1, Field: path,
		Err: fmt.Errorf("duplicate key %q (AWS does not document which one counts)", key)}
	rest, ok := strings.CutPrefix(path, "Statement")
	if !ok {
		return pe
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			if n, err := strconv.Atoi(rest[1:i]); err == nil {
				pe.Statement = n
				rest = strings.TrimPrefix(rest[i+1:], ".")
			}
		}
	} else {
		pe.Statement = 0 // a single statement object
		rest = strings.TrimPrefix(rest, ".")
	}
	if pe.Statement >= 0 {
		pe.Field = rest
	}
	return pe
}

// caseDuplicates rejects condition operators or keys that differ only in
// letter case: AWS compares them case-insensitively but does not document
// how such duplicates combine.
func caseDuplicates(m map[string]json.RawMessage) error {
	keys := sortedKeys(m)
	for i, a := range keys {
		for _, b := range keys[i+1:] {
			if strings.EqualFold(a, b) {
				return fmt.Errorf("%q and %q differ only in case (AWS does not document how they combine)", a, b)
			}
		}
	}
	return nil
}
