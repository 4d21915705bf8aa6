package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an S3 store. Open builds one from
// s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=BOOL
// &access-key-id=ID&secret-access-key=SECRET.
type S3Config struct {
	// Endpoint is the service's URL, http:// or https:// and a host
	// (default https://s3.amazonaws.com, or https://s3.REGION.amazonaws.com
	// when Region is set).
	Endpoint string
	// Bucket is the bucket's name. It must exist.
	Bucket string
	// Prefix, when set, is put before every key (with a '/'), so that
	// several clusters can share a bucket.
	Prefix string
	// Region is the bucket's region; empty asks the service once.
	Region string
	// PathStyle selects path-style requests (http://host/bucket/key,
	// which most self-hosted servers want) when true, virtual-host style
	// (http://bucket.host/key) when false, and the client library's choice
	// (virtual-host for AWS, path otherwise) when nil.
	PathStyle *bool
	// AccessKeyID and SecretAccessKey are the credentials. When both are
	// empty the environment's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	// (and AWS_SESSION_TOKEN) are used.
	AccessKeyID, SecretAccessKey string
	// Transport, when set, carries the requests (tests).
	Transport http.RoundTripper
}

// s3Attempts is how many times the S3 client sends a request that fails
// with a retriable error (5xx, SlowDown, a reset connection).
const s3Attempts = 3

// S3 is a Store in an S3-compatible bucket, through the minio-go client.
// Put is one PUT of the whole object (no multipart upload), which S3 makes
// visible atomically; GetRange is a GET with a Range header.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string // "" or ending in '/'
	desc   string
}

// NewS3 returns the store cfg describes. It does no network I/O.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 object store: no bucket")
	}
	if err := checkBucket(cfg.Bucket); err != nil {
		return nil, err
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
		if cfg.Region != "" {
			endpoint = "https://s3." + cfg.Region + ".amazonaws.com"
		}
	}
	eu, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3 object store: endpoint %q: %w", endpoint, err)
	}
	if eu.Scheme != "http" && eu.Scheme != "https" {
		return nil, fmt.Errorf("s3 object store: endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", endpoint)
	}
	if eu.Host == "" || (eu.Path != "" && eu.Path != "/") || eu.RawQuery != "" || eu.User != nil {
		return nil, fmt.Errorf("s3 object store: endpoint %q: want only a scheme and a host[:port] (no path, query or user)", endpoint)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 object store: prefix: %w", err)
		}
		prefix += "/"
	}
	var creds *credentials.Credentials
	switch {
	case cfg.AccessKeyID != "" && cfg.SecretAccessKey != "":
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	case cfg.AccessKeyID != "" || cfg.SecretAccessKey != "":
		return nil, fmt.Errorf("s3 object store: give both access-key-id and secret-access-key, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used)")
	case os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != "":
		creds = credentials.NewEnvAWS()
	default:
		return nil, fmt.Errorf("s3 object store: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or access-key-id and secret-access-key in the URL")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle != nil {
		lookup = minio.BucketLookupDNS
		if *cfg.PathStyle {
			lookup = minio.BucketLookupPath
		}
	}
	client, err := minio.New(eu.Host, &minio.Options{
		Creds:        creds,
		Secure:       eu.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
		// A few attempts (with the client's back-off, under a second in
		// all) for a transient error; callers retry under their own
		// deadlines (the shared log retries a PUT until its PutTimeout),
		// which ten attempts of up to a second each would swallow.
		MaxRetries: s3Attempts,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 object store: %w", err)
	}
	desc := "s3://" + cfg.Bucket
	if prefix != "" {
		desc += "/" + strings.TrimSuffix(prefix, "/")
	}
	desc += "?endpoint=" + url.QueryEscape(eu.Scheme+"://"+eu.Host)
	return &S3{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: prefix, desc: desc}, nil
}

// checkBucket refuses names S3 would refuse (3 to 63 characters of
// [a-z0-9.-], starting and ending with a letter or digit).
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("s3 object store: bucket %q: want 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '.' || c == '-') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("s3 object store: bucket %q: character %q at %d: want lower-case letters, digits, '.' and '-' (not first or last)", b, c, i)
		}
	}
	return nil
}

// String returns the store's URL, without credentials.
func (s *S3) String() string { return s.desc }

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		DisableMultipart: true, // one PUT: atomic
		ContentType:      "application/octet-stream",
		// Over plain HTTP minio-go signs the body in chunks (aws-chunked),
		// which sends no Content-Length for an empty body; services then
		// refuse it (MissingContentLength). An empty body has nothing to
		// sign in chunks.
		DisableContentSha256: len(data) == 0,
	})
	if err != nil {
		return fmt.Errorf("put %q: %w", key, s.wrap(err))
	}
	return nil
}

// GetRange implements Store.
func (s *S3) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("object %q: negative offset %d", key, off)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return s.stattedRange(ctx, key, off, 0)
	}
	var opts minio.GetObjectOptions
	switch {
	case off == 0 && n < 0:
		// the whole object: no Range header
	case n < 0:
		if err := opts.SetRange(off, 0); err != nil { // bytes=off-
			return nil, err
		}
	default:
		if err := opts.SetRange(off, off+n-1); err != nil {
			return nil, err
		}
	}
	body, info, hdr, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, opts)
	if err != nil {
		if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusRequestedRangeNotSatisfiable || r.Code == "InvalidRange" {
			// S3 refuses a range starting at the end; we answer it with
			// no bytes, and beyond the end with a RangeError.
			return s.stattedRange(ctx, key, off, n)
		}
		if isS3NotFound(err) {
			return nil, &NotFoundError{Key: key}
		}
		return nil, fmt.Errorf("get %q: %w", key, s.wrap(err))
	}
	defer body.Close()
	size := info.Size
	if opts.Header().Get("Range") != "" && hdr.Get("Content-Range") == "" {
		// The service ignored the Range header and sends the whole
		// object (200, not 206): read it and cut the range out.
		buf := make([]byte, size)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, fmt.Errorf("get %q: reading %d bytes: %w", key, size, s.wrap(err))
		}
		m, err := checkRange(key, off, n, size)
		if err != nil {
			return nil, err
		}
		return buf[off : off+m], nil
	}
	if n >= 0 && size > n {
		return nil, fmt.Errorf("get %q: asked for %d bytes at %d, the service sent %d", key, n, off, size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, fmt.Errorf("get %q: reading %d bytes: %w", key, size, s.wrap(err))
	}
	return buf, nil
}

// stattedRange answers a read the service cannot (an empty range) from the
// object's size.
func (s *S3) stattedRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		if isS3NotFound(err) {
			return nil, &NotFoundError{Key: key}
		}
		return nil, fmt.Errorf("get %q: %w", key, s.wrap(err))
	}
	if _, err := checkRange(key, off, n, info.Size); err != nil {
		return nil, err
	}
	if n != 0 && off < info.Size {
		return nil, fmt.Errorf("get %q: the service refused the range at %d of a %d-byte object", key, off, info.Size)
	}
	return []byte{}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil && !isS3NotFound(err) {
		return fmt.Errorf("delete %q: %w", key, s.wrap(err))
	}
	return nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Object
	for info := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, fmt.Errorf("list %q: %w", prefix, s.wrap(info.Err))
		}
		key, ok := strings.CutPrefix(info.Key, s.prefix)
		if !ok || CheckKey(key) != nil {
			continue // not an object this store could have written
		}
		out = append(out, Object{Key: key, Size: info.Size})
	}
	// S3 lists in UTF-8 byte order already; sort anyway so that a
	// service that does not cannot break callers.
	sortObjects(out)
	return out, nil
}

func isS3NotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket"
}

// wrap adds the bucket to errors that concern it.
func (s *S3) wrap(err error) error {
	r := minio.ToErrorResponse(err)
	switch r.Code {
	case "NoSuchBucket":
		return fmt.Errorf("bucket %q does not exist at %s: create it first: %w", s.bucket, s.client.EndpointURL(), err)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s refused the credentials (%s): %w", s.client.EndpointURL(), r.Code, err)
	}
	return err
}

// s3ConfigFromURL reads an s3:// URL.
func s3ConfigFromURL(u *url.URL) (S3Config, error) {
	what := redactURL(u)
	if u.User != nil {
		return S3Config{}, fmt.Errorf("object store URL %q: give credentials as access-key-id and secret-access-key parameters or in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not as a user", what)
	}
	cfg := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if cfg.Bucket == "" {
		return cfg, fmt.Errorf("object store URL %q: no bucket: want s3://BUCKET?endpoint=URL", what)
	}
	if strings.Contains(u.Path, "//") {
		return cfg, fmt.Errorf("object store URL %q: the key prefix %q has an empty segment", what, u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return cfg, fmt.Errorf("object store URL %q: parameters: %w", what, err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return cfg, fmt.Errorf("object store URL %q: parameter %q given %d times", what, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "path-style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return cfg, fmt.Errorf("object store URL %q: path-style=%q: want true or false", what, v)
			}
			cfg.PathStyle = &b
		case "access-key-id":
			cfg.AccessKeyID = v
		case "secret-access-key":
			cfg.SecretAccessKey = v
		default:
			return cfg, fmt.Errorf("object store URL %q: unknown parameter %q (known: endpoint, region, path-style, access-key-id, secret-access-key)", what, k)
		}
	}
	return cfg, nil
}
