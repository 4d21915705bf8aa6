package broker

import "encoding/binary"

// murmur2 is the 32-bit MurmurHash2 exactly as Kafka's Java client computes
// it (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c,
// little-endian 4-byte blocks, the tail folded in, then the final mix. Using
// the same function as Kafka's default partitioner keeps a key on the same
// partition whether it was produced through Sluice or a Kafka client.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// keyPartition is Kafka's default partition of a non-null key among n
// partitions: toPositive(murmur2(key)) % n, where toPositive clears the sign
// bit (it is not abs: abs(MinInt32) would stay negative).
func keyPartition(key []byte, n int) int32 {
	return int32(int(uint32(murmur2(key))&0x7fffffff) % n)
}
