package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrConflict is returned by a write whose condition failed: another
// invocation changed or claimed the item since it was read.
//
// A write is not a conflict with itself: when the SDK retries a write whose
// first attempt reached DynamoDB but whose answer was lost (a connection
// closed or reset on the way back), the retry's condition fails against
// the item the first attempt wrote. So every conditional write stores a
// token of its own (attribute "write") and asks for the item as it is when
// the condition fails (ReturnValuesOnConditionCheckFailure ALL_OLD); an
// item that carries the write's own token means the write landed, and it
// succeeds.
var ErrConflict = errors.New("state: the item changed since it was read")

// API is the part of the DynamoDB client Table calls; *dynamodb.Client
// implements it. These five calls are all the IAM policy grants.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Table is the state table (STATE_TABLE): one item per problem, keyed by
// the KMS key ARN and the finding's identity.
type Table struct {
	Client API
	Name   string
	// Options are Decide's; Table uses their TTLs for the expiry it writes.
	Options Options
}

// SweepPartition is the partition key of the sweep's own item, which keeps
// the previous sweep's counts across cold starts.
const SweepPartition = "#sweep"

// maxItemsPerKey bounds what Items reads about one key (a key has a few
// dozen problems at the very most; the rest would be a fault).
const maxItemsPerKey = 1000

// Attribute names besides the key and TTL attributes.
const (
	attrStatus       = "status"
	attrCode         = "code"
	attrSeverity     = "severity"
	attrOneTime      = "oneTime"
	attrFingerprint  = "fingerprint"
	attrMessage      = "message"
	attrOpenedBy     = "openedBy"
	attrFirstSeen    = "firstSeen"
	attrLastSeen     = "lastSeen"
	attrLastNotified = "lastNotified"
	attrNotifyCount  = "notifyCount"
	attrResolvedAt   = "resolvedAt"
	attrVersion      = "version"
	attrClaim        = "claim"
	attrClaimUntil   = "claimUntil"
	attrSummary      = "summary"
	attrWrite        = "write"
)

// Items returns what the table holds about key, expired items included
// (Decide treats them as absent), with a strongly consistent read: one
// Query call.
func (t *Table) Items(ctx context.Context, key string) ([]Item, error) {
	var items []Item
	p := t.partition(key)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("state: query %s: %w", key, err)
		}
		for _, av := range out.Items {
			it, err := decodeItem(av)
			if err != nil {
				return nil, fmt.Errorf("state: item of %s: %w", key, err)
			}
			items = append(items, it)
		}
		if len(items) > maxItemsPerKey {
			return nil, fmt.Errorf("state: key %s has more than %d items", key, maxItemsPerKey)
		}
	}
	return items, nil
}

// partition pages through the items of one partition key (a key ARN, or
// one of the table's own partitions), strongly consistent.
func (t *Table) partition(key string) *dynamodb.QueryPaginator {
	return dynamodb.NewQueryPaginator(t.Client, &dynamodb.QueryInput{
		TableName:                 aws.String(t.Name),
		KeyConditionExpression:    aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": KeyAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(key)},
		ConsistentRead:            aws.Bool(true),
	})
}

// Item reads one item again (after a conflict): GetItem, strongly
// consistent. ok is false when there is none.
func (t *Table) Item(ctx context.Context, key, id string) (it Item, ok bool, err error) {
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.Name),
		Key:            itemKey(key, id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("state: get %s %s: %w", key, id, err)
	}
	if len(out.Item) == 0 {
		return Item{}, false, nil
	}
	it, err = decodeItem(out.Item)
	if err != nil {
		return Item{}, false, fmt.Errorf("state: item %s %s: %w", key, id, err)
	}
	return it, true, nil
}

// Open writes a new item for s (or replaces a resolved or expired one),
// claimed by token until until, and returns it: one conditional PutItem,
// which fails with ErrConflict when another invocation wrote first.
func (t *Table) Open(ctx context.Context, key string, s Send, by, token string, until, now time.Time) (Item, error) {
	f := s.Found
	it := Item{
		Key: key, ID: f.ID, Status: Open, Code: f.Code, Severity: f.Severity, OneTime: f.OneTime,
		Fingerprint: f.Fingerprint, Message: clipMessage(f.Message), OpenedBy: by,
		FirstSeen: now, LastSeen: now, Expires: now.Add(t.ttl(f.OneTime)),
		Version: s.Item.Version + 1, Claim: token, ClaimUntil: until,
	}
	write := rand.Text()
	in := &dynamodb.PutItemInput{TableName: aws.String(t.Name), Item: encodeItem(it),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
	in.Item[attrWrite] = str(write)
	if s.Item.Version == 0 && s.Item.Status == "" {
		in.ConditionExpression = aws.String("attribute_not_exists(#k)")
		in.ExpressionAttributeNames = map[string]string{"#k": KeyAttribute}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(s.Item.Version)}
	}
	if _, err := t.Client.PutItem(ctx, in); err != nil {
		if err := t.writeErr("open", it, write, err); err != nil {
			return Item{}, err
		}
	}
	return it, nil
}

// Claim marks an open item as being published about by token until until:
// one UpdateItem conditioned on the version read.
func (t *Table) Claim(ctx context.Context, it Item, token string, until time.Time) (Item, error) {
	err := t.update(ctx, "claim", it, "", "#c = :c, #cu = :cu",
		map[string]string{"#c": attrClaim, "#cu": attrClaimUntil},
		map[string]types.AttributeValue{":c": str(token), ":cu": tm(until)})
	if err != nil {
		return Item{}, err
	}
	it.Claim, it.ClaimUntil, it.Version = token, until, it.Version+1
	return it, nil
}

// Notified records, after the publish succeeded, that f was alerted on at
// now, and releases the claim: one UpdateItem conditioned on the claim.
func (t *Table) Notified(ctx context.Context, it Item, token string, f Observed, now time.Time) error {
	return t.update(ctx, "record notified", it, token,
		"#ln = :now, #ls = :now, #n = #n + :one, #fp = :fp, #sev = :sev, #e = :e",
		map[string]string{"#ln": attrLastNotified, "#ls": attrLastSeen, "#n": attrNotifyCount,
			"#fp": attrFingerprint, "#sev": attrSeverity, "#e": TTLAttribute},
		map[string]types.AttributeValue{":now": tm(now), ":fp": str(f.Fingerprint), ":sev": str(f.Severity),
			":e": num(now.Add(t.ttl(it.OneTime)).Unix())})
}

// Release gives up token's claim after a failed publish, so that the
// retry (this invocation's, or another's) claims it again at once.
func (t *Table) Release(ctx context.Context, it Item, token string) error {
	return t.update(ctx, "release", it, token, "", nil, nil)
}

// Resolved records, after the RESOLVED alert was published, that the
// problem is over, and releases the claim; the item expires after
// ClosedTTL.
func (t *Table) Resolved(ctx context.Context, it Item, token string, now time.Time) error {
	return t.update(ctx, "resolve", it, token, "#s = :s, #r = :now, #ls = :now, #e = :e",
		map[string]string{"#s": attrStatus, "#r": attrResolvedAt, "#ls": attrLastSeen, "#e": TTLAttribute},
		map[string]types.AttributeValue{":s": str(string(Resolved)), ":now": tm(now),
			":e": num(now.Add(t.Options.closedTTL()).Unix())})
}

// Refresh pushes back the expiry of an open item seen again.
func (t *Table) Refresh(ctx context.Context, it Item, now time.Time) error {
	return t.update(ctx, "refresh", it, "", "#ls = :now, #e = :e",
		map[string]string{"#ls": attrLastSeen, "#e": TTLAttribute},
		map[string]types.AttributeValue{":now": tm(now), ":e": num(now.Add(t.ttl(it.OneTime)).Unix())})
}

// update is one conditional UpdateItem of it, named op in its error: set
// (the assignments of a SET clause, with the names and values they use)
// and the version moved on by one. With claimedBy empty the write is
// conditioned on the version read; otherwise on claimedBy's claim, which
// it releases. A failed condition is ErrConflict.
func (t *Table) update(ctx context.Context, op string, it Item, claimedBy, set string,
	names map[string]string, values map[string]types.AttributeValue) error {
	write := rand.Text()
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(t.Name),
		Key:                                 itemKey(it.Key, it.ID),
		ExpressionAttributeNames:            map[string]string{"#v": attrVersion, "#w": attrWrite},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":w": str(write)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	maps.Copy(in.ExpressionAttributeNames, names)
	maps.Copy(in.ExpressionAttributeValues, values)
	if set != "" {
		set += ", "
	}
	set += "#w = :w, "
	if claimedBy == "" {
		in.UpdateExpression = aws.String("SET " + set + "#v = :v1")
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeValues[":v"], in.ExpressionAttributeValues[":v1"] = num(it.Version), num(it.Version+1)
	} else {
		in.UpdateExpression = aws.String("SET " + set + "#v = #v + :one REMOVE #c, #cu")
		in.ConditionExpression = aws.String("#c = :c")
		in.ExpressionAttributeNames["#c"], in.ExpressionAttributeNames["#cu"] = attrClaim, attrClaimUntil
		in.ExpressionAttributeValues[":one"], in.ExpressionAttributeValues[":c"] = num(1), str(claimedBy)
	}
	_, err := t.Client.UpdateItem(ctx, in)
	return t.writeErr(op, it, write, err)
}

// Supersede deletes an open item made moot (the key was deleted): one
// DeleteItem conditioned on the version read.
func (t *Table) Supersede(ctx context.Context, it Item) error {
	_, err := t.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.Name),
		Key:                       itemKey(it.Key, it.ID),
		ConditionExpression:       aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(it.Version)},
	})
	return t.writeErr("supersede", it, "", err)
}

// Summary returns what the previous sweep of scope stored with PutSummary;
// ok is false when there was none (or it expired).
func (t *Table) Summary(ctx context.Context, scope string, now time.Time) (summary string, ok bool, err error) {
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.Name),
		Key:            itemKey(SweepPartition, scope),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", false, fmt.Errorf("state: read the previous sweep's summary: %w", err)
	}
	s, _ := out.Item[attrSummary].(*types.AttributeValueMemberS)
	if s == nil || getTime(out.Item, TTLAttribute, true).Before(now) {
		return "", false, nil
	}
	return s.Value, true, nil
}

// StoredSummary is one scope's sweep summary as PutSummary stored it, and
// when.
type StoredSummary struct {
	Scope, Summary string
	At             time.Time
}

// maxSummaries bounds what Summaries reads: one per account and Region of
// an organization's sweep.
const maxSummaries = 20000

// Summaries returns the sweep summaries of every scope, unexpired ones
// only, with strongly consistent Query pages of the sweep's partition: the
// organization's sweep reads its workers' with it.
func (t *Table) Summaries(ctx context.Context, now time.Time) ([]StoredSummary, error) {
	var out []StoredSummary
	p := t.partition(SweepPartition)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("state: query the sweep summaries: %w", err)
		}
		for _, m := range page.Items {
			scope, _ := m[FindingAttribute].(*types.AttributeValueMemberS)
			summary, _ := m[attrSummary].(*types.AttributeValueMemberS)
			if scope == nil || summary == nil || getTime(m, TTLAttribute, true).Before(now) {
				continue
			}
			out = append(out, StoredSummary{Scope: scope.Value, Summary: summary.Value, At: getTime(m, attrLastSeen, false)})
		}
		if len(out) > maxSummaries {
			return nil, fmt.Errorf("state: more than %d sweep summaries", maxSummaries)
		}
	}
	return out, nil
}

// AccountPartition is the partition key of the items that name the
// organization's accounts, one per account with the account ID as its
// sort key: the organization's sweep keeps them from Organizations'
// ListAccounts, so that the alerts of the event path name the account too.
const AccountPartition = "#account"

// attrName is an account item's name.
const attrName = "name"

// PutAccountNames stores the names (account ID to name) that the table
// does not hold yet, or holds otherwise: one Query of the account items,
// then one PutItem per new or renamed account. Accounts gone from names
// keep their item (a name is no secret and costs nothing).
func (t *Table) PutAccountNames(ctx context.Context, names map[string]string) error {
	held := map[string]string{}
	p := t.partition(AccountPartition)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("state: query the account names: %w", err)
		}
		for _, m := range page.Items {
			id, _ := m[FindingAttribute].(*types.AttributeValueMemberS)
			name, _ := m[attrName].(*types.AttributeValueMemberS)
			if id != nil && name != nil {
				held[id.Value] = name.Value
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(names)) {
		name := names[id]
		if old, ok := held[id]; ok && old == name {
			continue
		}
		item := itemKey(AccountPartition, id)
		item[attrName] = str(name)
		if _, err := t.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.Name), Item: item}); err != nil {
			return fmt.Errorf("state: store the name of account %s: %w", id, err)
		}
	}
	return nil
}

// AccountName returns the name PutAccountNames stored for account; ok is
// false when there is none.
func (t *Table) AccountName(ctx context.Context, account string) (name string, ok bool, err error) {
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.Name), Key: itemKey(AccountPartition, account)})
	if err != nil {
		return "", false, fmt.Errorf("state: read the name of account %s: %w", account, err)
	}
	v, _ := out.Item[attrName].(*types.AttributeValueMemberS)
	if v == nil {
		return "", false, nil
	}
	return v.Value, true, nil
}

// PutSummary stores a sweep's summary of scope for the next sweep.
func (t *Table) PutSummary(ctx context.Context, scope, summary string, now time.Time) error {
	item := itemKey(SweepPartition, scope)
	item[attrSummary] = str(summary)
	item[attrLastSeen] = tm(now)
	item[TTLAttribute] = num(now.Add(t.Options.openTTL()).Unix())
	if _, err := t.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.Name), Item: item}); err != nil {
		return fmt.Errorf("state: store the sweep's summary: %w", err)
	}
	return nil
}

func (t *Table) ttl(oneTime bool) time.Duration {
	if oneTime {
		return t.Options.closedTTL()
	}
	return t.Options.openTTL()
}

// writeErr wraps a failed write; a failed condition is ErrConflict, unless
// the item as it is carries the token of this write (write): then an
// earlier attempt of the same write landed, and there is no error.
func (t *Table) writeErr(op string, it Item, write string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		if w, _ := e.Item[attrWrite].(*types.AttributeValueMemberS); write != "" && w != nil && w.Value == write {
			return nil
		}
		return fmt.Errorf("state: %s %s %s: %w", op, it.Key, it.ID, ErrConflict)
	}
	return fmt.Errorf("state: %s %s %s: %w", op, it.Key, it.ID, err)
}

// maxMessage bounds the message kept in an item (an item is at most 400 KB).
const maxMessage = 1024

func clipMessage(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func itemKey(key, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttribute: str(key), FindingAttribute: str(id)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func tm(t time.Time) types.AttributeValue { return str(t.UTC().Format(time.RFC3339Nano)) }

func encodeItem(it Item) map[string]types.AttributeValue {
	m := itemKey(it.Key, it.ID)
	put := func(name, v string) {
		if v != "" {
			m[name] = str(v)
		}
	}
	putTime := func(name string, t time.Time) {
		if !t.IsZero() {
			m[name] = tm(t)
		}
	}
	put(attrStatus, string(it.Status))
	put(attrCode, it.Code)
	put(attrSeverity, it.Severity)
	put(attrFingerprint, it.Fingerprint)
	put(attrMessage, it.Message)
	put(attrOpenedBy, it.OpenedBy)
	put(attrClaim, it.Claim)
	putTime(attrFirstSeen, it.FirstSeen)
	putTime(attrLastSeen, it.LastSeen)
	putTime(attrLastNotified, it.LastNotified)
	putTime(attrResolvedAt, it.ResolvedAt)
	putTime(attrClaimUntil, it.ClaimUntil)
	m[attrOneTime] = &types.AttributeValueMemberBOOL{Value: it.OneTime}
	m[attrNotifyCount] = num(int64(it.NotifyCount))
	m[attrVersion] = num(it.Version)
	if !it.Expires.IsZero() {
		m[TTLAttribute] = num(it.Expires.Unix())
	}
	return m
}

func decodeItem(m map[string]types.AttributeValue) (Item, error) {
	getS := func(name string) string {
		if v, ok := m[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	it := Item{
		Key: getS(KeyAttribute), ID: getS(FindingAttribute), Status: Status(getS(attrStatus)),
		Code: getS(attrCode), Severity: getS(attrSeverity), Fingerprint: getS(attrFingerprint),
		Message: getS(attrMessage), OpenedBy: getS(attrOpenedBy), Claim: getS(attrClaim),
		FirstSeen: getTime(m, attrFirstSeen, false), LastSeen: getTime(m, attrLastSeen, false),
		LastNotified: getTime(m, attrLastNotified, false), ResolvedAt: getTime(m, attrResolvedAt, false),
		ClaimUntil: getTime(m, attrClaimUntil, false), Expires: getTime(m, TTLAttribute, true),
	}
	if it.Key == "" || it.ID == "" {
		return Item{}, errors.New("no key or finding attribute")
	}
	if v, ok := m[attrOneTime].(*types.AttributeValueMemberBOOL); ok {
		it.OneTime = v.Value
	}
	if v, ok := m[attrVersion].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return Item{}, fmt.Errorf("attribute %s: %w", attrVersion, err)
		}
		it.Version = n
	}
	if v, ok := m[attrNotifyCount].(*types.AttributeValueMemberN); ok {
		n, err := strconv.Atoi(v.Value)
		if err != nil {
			return Item{}, fmt.Errorf("attribute %s: %w", attrNotifyCount, err)
		}
		it.NotifyCount = n
	}
	return it, nil
}

// getTime reads a time attribute: RFC 3339 text, or with epoch set
// seconds since the epoch (the TTL attribute). Absent or malformed is zero.
func getTime(m map[string]types.AttributeValue, name string, epoch bool) time.Time {
	if epoch {
		v, ok := m[name].(*types.AttributeValueMemberN)
		if !ok {
			return time.Time{}
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.Unix(n, 0)
	}
	v, ok := m[name].(*types.AttributeValueMemberS)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v.Value)
	if err != nil {
		return time.Time{}
	}
	return t
}
