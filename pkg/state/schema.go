package state

// The state table's schema: the SAM template (template.yaml), the devstack
// and the DynamoDB store all use these names, and a test checks the
// template against them.
const (
	// KeyAttribute is the partition key: the KMS key ARN the item is
	// about (or SweepPartition for the sweep's own item).
	KeyAttribute = "keyArn"
	// FindingAttribute is the sort key: the finding's identity, its code
	// and, when it has one, the qualifier (permission, principal or grant)
	// it is about, e.g. "REQUIRED_PERMISSION_DENIED#kms:Decrypt".
	FindingAttribute = "finding"
	// TTLAttribute holds the item's expiry, in seconds since the Unix
	// epoch: the table's TimeToLiveSpecification names it. DynamoDB
	// deletes expired items only eventually; readers ignore them.
	TTLAttribute = "expiresAt"
)

// DefaultTable is the table name the devstack creates.
const DefaultTable = "fsxkms-state"
