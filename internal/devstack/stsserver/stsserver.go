// Package stsserver is a stand-in for AWS STS that makes the local stack
// multi-account: it speaks STS's query protocol (a form POST with
// Action=AssumeRole or Action=GetCallerIdentity and Version=2011-06-15,
// XML answers and STS's <ErrorResponse> errors), as the AWS SDKs and the
// AWS CLI send and read it.
//
// Who calls is read from the access key in the request's SigV4
// Authorization header (Credential=<access key id>/...); signatures and
// secrets are not checked. The accounts are the central one (New's
// Config.Central) and its members:
//
//   - AccessKeyFor(account) is a long-term access key of an account
//     ("AKIA" + account + "TEST"), for tests that act as a member;
//   - AssumeRole returns session credentials whose access key id encodes
//     the role's account ("ASIA" + account + 8 random characters), valid
//     until their Expiration;
//   - any other access key ("test", the stack's dummy credentials, or none)
//     is the central account, so a single-account stack behaves as before.
//
// Each member account has one role, the read role (Config.ReadRoleName),
// which only the central account may assume, as its trust policy in
// issue 14's member template allows. AssumeRole of any other role, of a
// role removed with RemoveRole, or by a caller of another account is
// refused with AccessDenied as STS refuses it (HTTP 403, the same message
// for a role that does not exist and one whose trust policy refuses).
//
// Lookup tells the stack's other servers (the KMS proxy and FSx server
// routers of package devstack) whose an access key is, so that every
// server answers per account: an access key that encodes an account the
// stack does not have, or session credentials STS never issued, are
// invalid; session credentials past their Expiration are expired.
package stsserver

import (
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsxkms/fsxkms/internal/awsid"
)

// Version is the STS API version the server speaks.
const Version = "2011-06-15"

// DefaultReadRoleName is the read role's name when Config sets none.
const DefaultReadRoleName = "fsxkms-read"

// Config configures a Server.
type Config struct {
	// Central is the account of the stack's own credentials.
	Central string
	// Members are the member accounts; each has the read role at start.
	Members []string
	// ReadRoleName is the name of the members' read role; default
	// DefaultReadRoleName.
	ReadRoleName string
	// Partition of the ARNs; default "aws".
	Partition string
}

// Server is the STS stand-in. It is an http.Handler; create it with New.
// It is safe for concurrent use.
type Server struct {
	central, partition, readRole string
	accounts                     []string // central first
	now                          func() time.Time

	mu       sync.Mutex
	roles    map[string]bool     // role ARN -> exists
	sessions map[string]*session // access key id -> session
	calls    map[string]int      // role ARN -> AssumeRole calls naming it
	ops      map[string]int      // Action -> calls
}

// session is a set of temporary credentials AssumeRole issued.
type session struct {
	account, roleName, sessionName, roleID string
	expires                                time.Time
}

// roleNameRE is IAM's role name syntax.
var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// New returns a server for cfg. Every member must be a 12-digit account
// id other than Central, listed once.
func New(cfg Config) (*Server, error) {
	if cfg.ReadRoleName == "" {
		cfg.ReadRoleName = DefaultReadRoleName
	}
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.Central == "" {
		return nil, errors.New("stsserver: no central account")
	}
	if !roleNameRE.MatchString(cfg.ReadRoleName) {
		return nil, fmt.Errorf("stsserver: read role name %q is not an IAM role name (1 to 64 of letters, digits and +=,.@_-)", cfg.ReadRoleName)
	}
	s := &Server{central: cfg.Central, partition: cfg.Partition, readRole: cfg.ReadRoleName,
		accounts: []string{cfg.Central}, now: time.Now,
		roles: map[string]bool{}, sessions: map[string]*session{}, calls: map[string]int{}, ops: map[string]int{}}
	for _, m := range cfg.Members {
		switch {
		case !awsid.Account(m):
			return nil, fmt.Errorf("stsserver: member account %q is not a 12-digit AWS account id", m)
		case slices.Contains(s.accounts, m):
			return nil, fmt.Errorf("stsserver: account %s is listed twice (the central account is %s)", m, cfg.Central)
		}
		s.accounts = append(s.accounts, m)
		s.roles[s.RoleARN(m)] = true
	}
	return s, nil
}

// Accounts returns the central account, then the members.
func (s *Server) Accounts() []string { return slices.Clone(s.accounts) }

// ReadRoleName returns the name of the members' read role.
func (s *Server) ReadRoleName() string { return s.readRole }

// RoleARN returns the ARN of the read role in account,
// arn:aws:iam::<account>:role/<read role name>.
func (s *Server) RoleARN(account string) string {
	return "arn:" + s.partition + ":iam::" + account + ":role/" + s.readRole
}

// AddRole gives account the read role (again); AssumeRole of it then
// succeeds. The account must be one of the stack's.
func (s *Server) AddRole(account string) error {
	if !slices.Contains(s.accounts, account) {
		return fmt.Errorf("stsserver: AddRole: %s is not an account of the stack (%v)", account, s.accounts)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[s.RoleARN(account)] = true
	return nil
}

// RemoveRole deletes the read role of account: AssumeRole of it is then
// AccessDenied. Credentials issued before stay valid until they expire, as
// in IAM.
func (s *Server) RemoveRole(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, s.RoleARN(account))
}

// AssumeRoleCalls returns how many AssumeRole calls named the read role of
// account (granted or refused) since the start or the last ResetCalls.
func (s *Server) AssumeRoleCalls(account string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[s.RoleARN(account)]
}

// Calls returns the number of calls per Action (AssumeRole,
// GetCallerIdentity, ...) since the start or the last ResetCalls.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ops)
}

// ResetCalls sets every call counter back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.ops = map[string]int{}
}

// SetClock makes now the server's clock, which stamps the credentials
// AssumeRole issues and decides when they have expired: a test of expiry
// moves it past the Expiration instead of sleeping. nil goes back to
// time.Now.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// clock is the time by the server's clock (SetClock).
func (s *Server) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	return now()
}

// AccessKeyFor returns a long-term access key id of account: "AKIA" +
// account + "TEST". Requests signed with it (any secret) act as that
// account on every server of the stack.
func AccessKeyFor(account string) string { return "AKIA" + account + "TEST" }

// longTermRE and sessionRE are the shapes of the access keys the server
// knows: AccessKeyFor's and AssumeRole's.
var (
	longTermRE = regexp.MustCompile(`^AKIA(\d{12})TEST$`)
	sessionRE  = regexp.MustCompile(`^ASIA(\d{12})[A-Z2-7]{8}$`)
)

// AccessKeyOf returns the access key id of a SigV4-signed request: the
// Credential of its Authorization header, or the X-Amz-Credential query
// parameter of a presigned URL; "" when unsigned.
func AccessKeyOf(r *http.Request) string {
	cred := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Credential="); ok {
			cred, _, _ = strings.Cut(rest, ",")
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	akid, _, _ := strings.Cut(strings.TrimSpace(cred), "/")
	return akid
}

// ErrInvalidToken and ErrExpiredToken are Lookup's errors: an access key
// the stack never issued, and session credentials past their Expiration.
// AWS answers them with InvalidTokenMessage and ExpiredTokenMessage.
var (
	ErrInvalidToken = errors.New("invalid security token")
	ErrExpiredToken = errors.New("expired security token")
)

// InvalidTokenMessage and ExpiredTokenMessage are AWS's error messages for
// ErrInvalidToken and ErrExpiredToken.
const (
	InvalidTokenMessage = "The security token included in the request is invalid."
	ExpiredTokenMessage = "The security token included in the request is expired"
)

// Identity is who signs with an access key, as GetCallerIdentity says.
type Identity struct {
	Account, Arn, UserID string
	// Expires is when session credentials expire; zero for a long-term
	// key.
	Expires time.Time
}

// Lookup returns the identity behind the access key id akid:
// AccessKeyFor's of a stack account, a session AssumeRole issued, or, for
// any other key (including "" and "test"), the central account.
func (s *Server) Lookup(akid string) (Identity, error) {
	if m := longTermRE.FindStringSubmatch(akid); m != nil {
		if !slices.Contains(s.accounts, m[1]) {
			return Identity{}, ErrInvalidToken
		}
		return s.user(m[1]), nil
	}
	if sessionRE.MatchString(akid) {
		s.mu.Lock()
		se := s.sessions[akid]
		s.mu.Unlock()
		if se == nil {
			return Identity{}, ErrInvalidToken
		}
		if !s.clock().Before(se.expires) {
			return Identity{}, ErrExpiredToken
		}
		return Identity{Account: se.account, Arn: se.arn(s.partition), UserID: se.roleID + ":" + se.sessionName, Expires: se.expires}, nil
	}
	return s.user(s.central), nil
}

// user is the identity of a long-term key of account: an IAM user.
func (s *Server) user(account string) Identity {
	return Identity{Account: account, Arn: "arn:" + s.partition + ":iam::" + account + ":user/devstack", UserID: "AIDA" + account + "DEVSTACK"}
}

func (se *session) arn(partition string) string {
	return "arn:" + partition + ":sts::" + se.account + ":assumed-role/" + se.roleName + "/" + se.sessionName
}

// ServeHTTP answers AssumeRole and GetCallerIdentity.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "MalformedQueryString", "the request is not a valid form: "+err.Error())
		return
	}
	action := r.Form.Get("Action")
	s.mu.Lock()
	s.ops[action]++
	s.mu.Unlock()
	if v := r.Form.Get("Version"); v != Version {
		writeError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v))
		return
	}
	akid := AccessKeyOf(r)
	if akid == "" {
		writeError(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	caller, err := s.Lookup(akid)
	switch {
	case errors.Is(err, ErrInvalidToken):
		writeError(w, http.StatusForbidden, "InvalidClientTokenId", InvalidTokenMessage)
		return
	case errors.Is(err, ErrExpiredToken):
		writeError(w, http.StatusBadRequest, "ExpiredToken", ExpiredTokenMessage)
		return
	}
	switch action {
	case "GetCallerIdentity":
		writeResult(w, action, struct {
			Arn     string
			UserId  string
			Account string
		}{caller.Arn, caller.UserID, caller.Account})
	case "AssumeRole":
		s.assumeRole(w, r, caller)
	default:
		writeError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, Version))
	}
}

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// maxSessionDuration is a role's default MaxSessionDuration.
const maxSessionDuration = time.Hour

func (s *Server) assumeRole(w http.ResponseWriter, r *http.Request, caller Identity) {
	roleARN, name := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	switch {
	case roleARN == "":
		writeError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
		return
	case len(roleARN) < 20:
		writeError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleARN))
		return
	case name == "":
		writeError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
		return
	case !sessionNameRE.MatchString(name):
		writeError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", name))
		return
	}
	duration := time.Hour
	if d := r.Form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		switch {
		case err != nil:
			writeError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", d))
			return
		case n < 900:
			writeError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n))
			return
		case time.Duration(n)*time.Second > maxSessionDuration:
			writeError(w, http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
			return
		}
		duration = time.Duration(n) * time.Second
	}
	account, roleName, ok := parseRoleARN(roleARN)
	if !ok {
		writeError(w, http.StatusBadRequest, "ValidationError", roleARN+" is invalid")
		return
	}
	now := s.clock()
	s.mu.Lock()
	s.calls[roleARN]++
	// Only the central account is trusted by a member's read role.
	granted := s.roles[roleARN] && caller.Account == s.central
	var akid string
	var se *session
	if granted {
		for akid == "" || s.sessions[akid] != nil {
			akid = "ASIA" + account + randomBase32(8)
		}
		se = &session{account: account, roleName: roleName, sessionName: name,
			roleID: "AROA" + account + "DEVST", expires: now.Add(duration).Truncate(time.Millisecond)}
		s.sessions[akid] = se
	}
	s.mu.Unlock()
	if !granted {
		writeError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.Arn, roleARN))
		return
	}
	type credentials struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type assumedRoleUser struct {
		AssumedRoleId string
		Arn           string
	}
	writeResult(w, "AssumeRole", struct {
		Credentials     credentials
		AssumedRoleUser assumedRoleUser
	}{
		credentials{akid, randomBase32(40), "FwoGZXIvYXdzE" + randomBase32(300), se.expires.UTC().Format("2006-01-02T15:04:05.000Z")},
		assumedRoleUser{se.roleID + ":" + name, se.arn(s.partition)},
	})
}

// parseRoleARN splits arn:<partition>:iam::<account>:role/<path/>name.
func parseRoleARN(s string) (account, name string, ok bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" || f[3] != "" || !awsid.Account(f[4]) {
		return "", "", false
	}
	res, ok := strings.CutPrefix(f[5], "role/")
	if !ok || res == "" {
		return "", "", false
	}
	return f[4], res[strings.LastIndex(res, "/")+1:], true
}

const xmlns = "https://sts.amazonaws.com/doc/" + Version + "/"

// writeResult writes STS's answer to action: <ActionResponse> holding
// <ActionResult> (v) and the request id.
func writeResult(w http.ResponseWriter, action string, v any) {
	type metadata struct{ RequestId string }
	doc := struct {
		XMLName  xml.Name
		Xmlns    string `xml:"xmlns,attr"`
		Result   any
		Metadata metadata `xml:"ResponseMetadata"`
	}{xml.Name{Local: action + "Response"}, xmlns, resultElement{action + "Result", v}, metadata{requestID()}}
	write(w, http.StatusOK, doc)
}

// resultElement encodes v as an element named name.
type resultElement struct {
	name string
	v    any
}

func (e resultElement) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	return enc.EncodeElement(e.v, xml.StartElement{Name: xml.Name{Local: e.name}})
}

// writeError writes STS's error document: <ErrorResponse><Error> with
// Type, Code and Message, and the request id.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	type errorElem struct {
		Type, Code, Message string
	}
	write(w, status, struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorElem
		RequestId string
	}{Xmlns: xmlns, Error: errorElem{typ, code, msg}, RequestId: requestID()})
}

func write(w http.ResponseWriter, status int, doc any) {
	b, err := xml.Marshal(doc)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>encoding the answer failed</Message></Error></ErrorResponse>")
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randomBase32(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = base32Alphabet[b[i]%32]
	}
	return string(b)
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
