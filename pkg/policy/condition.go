package policy

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// opKind is a condition operator with IfExists, set qualifiers and negation
// stripped: StringNotLike is opStringLike, negated.
type opKind uint8

const (
	opUnknown opKind = iota
	opStringEquals
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

type setKind uint8

const (
	setNone setKind = iota
	setAnyValue
	setAllValues
)

// operators maps lower-case operator names to their kind and negation.
var operators = map[string]struct {
	kind    opKind
	negated bool
}{
	"stringequals":              {opStringEquals, false},
	"stringnotequals":           {opStringEquals, true},
	"stringequalsignorecase":    {opStringEqualsIgnoreCase, false},
	"stringnotequalsignorecase": {opStringEqualsIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"numericequals":             {opNumericEquals, false},
	"numericnotequals":          {opNumericEquals, true},
	"numericlessthan":           {opNumericLessThan, false},
	"numericlessthanequals":     {opNumericLessThanEquals, false},
	"numericgreaterthan":        {opNumericGreaterThan, false},
	"numericgreaterthanequals":  {opNumericGreaterThanEquals, false},
	"dateequals":                {opDateEquals, false},
	"datenotequals":             {opDateEquals, true},
	"datelessthan":              {opDateLessThan, false},
	"datelessthanequals":        {opDateLessThanEquals, false},
	"dategreaterthan":           {opDateGreaterThan, false},
	"dategreaterthanequals":     {opDateGreaterThanEquals, false},
	"bool":                      {opBool, false},
	"binaryequals":              {opBinaryEquals, false},
	"ipaddress":                 {opIPAddress, false},
	"notipaddress":              {opIPAddress, true},
	"arnequals":                 {opArnLike, false},
	"arnlike":                   {opArnLike, false},
	"arnnotequals":              {opArnLike, true},
	"arnnotlike":                {opArnLike, true},
	"null":                      {opNull, false},
}

// parseOperator splits "ForAnyValue:StringNotLikeIfExists" into its parts.
// Operator names compare case-insensitively. An unknown name gives opUnknown.
func parseOperator(op string) (base opKind, negated bool, set setKind, ifExists bool) {
	name := op
	if i := strings.IndexByte(name, ':'); i >= 0 {
		switch strings.ToLower(name[:i]) {
		case "foranyvalue":
			set = setAnyValue
		case "forallvalues":
			set = setAllValues
		default:
			return opUnknown, false, setNone, false
		}
		name = name[i+1:]
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, "ifexists") {
		ifExists = true
		lower = strings.TrimSuffix(lower, "ifexists")
	}
	o, ok := operators[lower]
	if !ok {
		return opUnknown, false, set, ifExists
	}
	return o.kind, o.negated, set, ifExists
}

func (k opKind) takesVariables() bool {
	switch k {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		return true
	}
	return false
}

// tri is a three-valued truth: a condition or statement can be undecidable.
type tri uint8

const (
	no tri = iota
	yes
	maybe
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// eval decides the condition for r. A key that r marks unknown, a value that
// does not parse, or an unknown operator gives maybe.
func (c *condition) eval(r *Request, vars bool) tri {
	if c.base == opUnknown {
		return maybe
	}
	vals, present, unknown := r.lookup(c.key, c.lkey)
	if unknown {
		return maybe
	}
	if len(vals) == 0 {
		present = false
	}
	if c.base == opNull {
		// Null: true means "the key is absent"; values are ORed.
		res := no
		for _, v := range c.values {
			switch strings.ToLower(v) {
			case "true":
				if !present {
					res = yes
				}
			case "false":
				if present {
					res = yes
				}
			default:
				if res == no {
					res = maybe
				}
			}
		}
		return res
	}
	if !present {
		switch {
		case c.set == setAllValues:
			return yes // vacuously true for an absent or empty key
		case c.ifExists:
			return yes
		case c.set == setAnyValue:
			return no
		case c.negated:
			return yes
		default:
			return no
		}
	}
	switch c.set {
	case setAnyValue, setAllValues:
		// ForAnyValue holds as soon as one value satisfies the operator,
		// ForAllValues fails as soon as one does not; an unknown value
		// leaves the answer open.
		forAny := c.set == setAnyValue
		res := triOf(!forAny)
		for _, v := range vals {
			m := c.matchAny(v, r, vars)
			if m == maybe {
				res = maybe
				continue
			}
			if satisfied := (m == yes) != c.negated; satisfied == forAny {
				return triOf(forAny)
			}
		}
		return res
	}
	// A plain operator on the request's value(s): positive operators match
	// when some value matches some policy value; negated ones when none does.
	res := no
	for _, v := range vals {
		switch c.matchAny(v, r, vars) {
		case yes:
			return triOf(!c.negated)
		case maybe:
			res = maybe
		}
	}
	if res == maybe {
		return maybe
	}
	return triOf(c.negated)
}

// matchAny reports whether the request value v matches any policy value
// under the positive form of the operator (values are ORed).
func (c *condition) matchAny(v string, r *Request, vars bool) tri {
	res := no
	for _, pv := range c.values {
		if c.vars && vars {
			s, st := substitute(pv, r, c.base == opStringLike || c.base == opArnLike)
			switch st {
			case no: // a missing variable is null: it matches nothing
				continue
			case maybe:
				res = maybe
				continue
			}
			pv = s
		}
		switch m := compare(c.base, pv, v); m {
		case yes:
			return yes
		case maybe:
			res = maybe
		}
	}
	return res
}

// compare applies the positive operator k to policy value pv and request value v.
func compare(k opKind, pv, v string) tri {
	switch k {
	case opStringEquals:
		return triOf(pv == v)
	case opStringEqualsIgnoreCase:
		return triOf(strings.EqualFold(pv, v))
	case opStringLike:
		return triOf(wildcard(pv, v, false))
	case opArnLike:
		return triOf(arnLike(pv, v))
	case opBool:
		// The docs define Bool for true and false only; anything else is
		// undecidable rather than "no match".
		a, ok1 := parseBool(pv)
		b, ok2 := parseBool(v)
		if !ok1 || !ok2 {
			return maybe
		}
		return triOf(a == b)
	case opBinaryEquals:
		a, err1 := base64.StdEncoding.DecodeString(pv)
		b, err2 := base64.StdEncoding.DecodeString(v)
		if err1 != nil || err2 != nil {
			return triOf(pv == v)
		}
		return triOf(bytes.Equal(a, b))
	case opIPAddress:
		return ipMatch(pv, v)
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		a, ok1 := parseNumber(pv)
		b, ok2 := parseNumber(v)
		if !ok1 || !ok2 {
			return maybe
		}
		return order(k, cmp(b, a))
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		a, ok1 := parseDate(pv)
		b, ok2 := parseDate(v)
		if !ok1 || !ok2 {
			return maybe
		}
		return order(k, b.Compare(a))
	}
	return maybe
}

// parseBool reads "true" or "false" in any letter case.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// decimal is a plain decimal number, optionally signed, with an optional
// fraction and exponent: what a JSON number or a numeric string in a policy
// looks like. strconv.ParseFloat alone would also take "NaN", "Inf" and hex.
var decimal = regexp.MustCompile(`^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$`)

// parseNumber reads a decimal number for the Numeric operators.
func parseNumber(s string) (float64, bool) {
	if !decimal.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func cmp(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order turns "request value compared with policy value" into a match.
func order(k opKind, c int) tri {
	switch k {
	case opNumericEquals, opDateEquals:
		return triOf(c == 0)
	case opNumericLessThan, opDateLessThan:
		return triOf(c < 0)
	case opNumericLessThanEquals, opDateLessThanEquals:
		return triOf(c <= 0)
	case opNumericGreaterThan, opDateGreaterThan:
		return triOf(c > 0)
	case opNumericGreaterThanEquals, opDateGreaterThanEquals:
		return triOf(c >= 0)
	}
	return maybe
}

// parseDate reads ISO 8601 (date, date-time with or without zone) or epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if epochSeconds.MatchString(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f > maxEpoch {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// epochSeconds is a Unix time in seconds, with an optional fraction.
var epochSeconds = regexp.MustCompile(`^\d+(\.\d+)?$`)

// maxEpoch is 9999-12-31T23:59:59Z, the last instant ISO 8601 dates reach.
const maxEpoch = 253402300799

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z0700",
	"20060102T150405Z",
}

func ipMatch(pv, v string) tri {
	addr, err := netip.ParseAddr(v)
	if err != nil {
		if p, err := netip.ParsePrefix(v); err == nil {
			addr = p.Addr()
		} else {
			return no // not an address: cannot be in any range
		}
	}
	if strings.Contains(pv, "/") {
		p, err := netip.ParsePrefix(pv)
		if err != nil {
			return maybe
		}
		return triOf(p.Masked().Contains(addr.Unmap()))
	}
	a, err := netip.ParseAddr(pv)
	if err != nil {
		return maybe
	}
	return triOf(a.Unmap() == addr.Unmap())
}

// substitute replaces policy variables in s with request values. The
// substituted text is literal: for wildcard operators (like) it escapes '*'
// and '?' with NUL. It returns no when a variable has no value (and no
// default), maybe when its value is unknown.
func substitute(s string, r *Request, like bool) (string, tri) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), yes
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), yes
		}
		b.WriteString(s[:i])
		name := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch name {
		case "*", "?", "$":
			writeLiteral(&b, name, like)
			continue
		}
		def, hasDef := "", false
		if k := strings.IndexByte(name, ','); k >= 0 {
			d := strings.TrimSpace(name[k+1:])
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				def, hasDef = d[1:len(d)-1], true
			}
			name = strings.TrimSpace(name[:k])
		}
		vals, present, unknown := r.lookup(name, "")
		switch {
		case unknown:
			return "", maybe
		case present && len(vals) == 1:
			writeLiteral(&b, vals[0], like)
		case hasDef && (!present || len(vals) == 0):
			writeLiteral(&b, def, like)
		default: // absent, or multivalued (not allowed as a variable)
			return "", no
		}
	}
}

func writeLiteral(b *strings.Builder, s string, like bool) {
	if !like {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == 0 {
			b.WriteByte(0)
		}
		b.WriteByte(s[i])
	}
}
