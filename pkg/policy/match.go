package policy

import (
	"strings"
	"unicode/utf8"

	"github.com/fsxkms/fsxkms/internal/awsid"
)

// wildcard reports whether s matches pattern, where '*' matches any run of
// characters and '?' exactly one, anchored at both ends. With fold, ASCII
// letters compare case-insensitively. A NUL byte in pattern escapes the next
// byte (used for text substituted from policy variables, which is literal).
func wildcard(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px, sx = px+1, sx+w
					continue
				}
			default:
				adv := 1
				if c == 0 && px+1 < len(pattern) {
					c, adv = pattern[px+1], 2
				}
				if sx < len(s) && sameByte(c, s[sx], fold) {
					px, sx = px+adv, sx+1
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			_, w := utf8.DecodeRuneInString(s[starSx:])
			starSx += w
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

func sameByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// arnField splits off the first colon-separated field of s. The sixth field
// of an ARN (the resource) keeps its colons: callers stop after five splits.
func arnField(s string) (field, rest string, more bool) {
	if before, after, ok := strings.Cut(s, ":"); ok {
		return before, after, true
	}
	return s, "", false
}

// arnLike matches an ARN against an ArnLike pattern field by field: a
// wildcard never matches across the colons of the first five fields.
// The lone pattern "*" matches any value.
func arnLike(pattern, value string) bool {
	if pattern == "*" {
		return true
	}
	p, v := pattern, value
	for range 5 {
		pf, prest, pmore := arnField(p)
		vf, vrest, vmore := arnField(v)
		if !pmore || !vmore || !wildcard(pf, vf, false) {
			return false
		}
		p, v = prest, vrest
	}
	return wildcard(p, v, false)
}

// arn is an ARN split into its six fields without copying.
type arn struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arn, bool) {
	if !strings.HasPrefix(s, "arn:") {
		return arn{}, false
	}
	var f [5]string
	rest := s[4:]
	for i := range 4 {
		var more bool
		f[i], rest, more = arnField(rest)
		if !more {
			return arn{}, false
		}
	}
	return arn{partition: f[0], service: f[1], region: f[2], account: f[3], resource: rest}, true
}

// principalKind classifies a principal, in a policy or in a request.
type principalKind uint8

const (
	pkOther   principalKind = iota // unique ids, unrecognised strings: exact match only
	pkAny                          // "*"
	pkAccount                      // "A" or arn:aws:iam::A:root
	pkRole                         // arn:aws:iam::A:role/path/name
	pkUser                         // arn:aws:iam::A:user/path/name
	pkSession                      // arn:aws:sts::A:assumed-role/name/session
	pkService                      // fsx.amazonaws.com (requests only)
)

// principalEntry is one parsed AWS principal.
type principalEntry struct {
	raw     string
	kind    principalKind
	account string
	name    string // role name without path (role and session), else ""
}

func parsePrincipalEntry(s string) principalEntry {
	e := principalEntry{raw: s}
	switch {
	case s == "*":
		e.kind = pkAny
	case awsid.Account(s):
		e.kind, e.account = pkAccount, s
	default:
		a, ok := parseARN(s)
		if !ok {
			if strings.Contains(s, ".") && !strings.Contains(s, ":") {
				e.kind = pkService
			}
			return e
		}
		e.account = a.account
		switch {
		case a.service == "iam" && a.resource == "root":
			e.kind = pkAccount
		case a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
			e.kind = pkRole
			e.name = a.resource[strings.LastIndexByte(a.resource, '/')+1:]
		case a.service == "iam" && strings.HasPrefix(a.resource, "user/"):
			e.kind = pkUser
		case a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/"):
			r := a.resource[len("assumed-role/"):]
			if i := strings.IndexByte(r, '/'); i > 0 {
				e.kind, e.name = pkSession, r[:i]
			}
		}
	}
	return e
}

// covers reports whether policy entry e names the caller c itself, its role
// (for a role session) or, with viaAccount, its account. (NotPrincipal does
// not use it: matchPrincipal checks each identity the caller counts as.)
func (e *principalEntry) covers(c *principalEntry) (ok, viaAccount bool) {
	switch e.kind {
	case pkAny:
		return true, false
	case pkAccount:
		// Every IAM identity of the account: users, roles, sessions and
		// federated users alike (pkOther with an account comes from an ARN).
		return c.account != "" && c.account == e.account && c.kind != pkService, true
	case pkRole:
		if c.kind == pkRole {
			return c.raw == e.raw, false
		}
		return c.kind == pkSession && c.account == e.account && c.name == e.name, false
	}
	return e.raw == c.raw, false
}

// shortName is how a principal is named to a person: "role/FsxAdmin" when it
// belongs to account, else its full ARN.
func shortName(p, account string) string {
	a, ok := parseARN(p)
	if ok && a.account == account {
		return a.resource
	}
	return p
}
