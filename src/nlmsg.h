/* nlmsg.h — the walk over what nfnetlink_queue sends: the messages of one
 * received buffer and the attributes of a queued packet's message. Portable
 * (the uapi numbers are spelled here; nfqueue.c asserts them against the
 * kernel's headers), so the unit tests and a fuzz harness reach it with
 * truncated and malformed input. Reads only inside the bytes it is given. */
#ifndef HELLOSPLIT_NLMSG_H
#define HELLOSPLIT_NLMSG_H

#include <stddef.h>
#include <stdint.h>

#define NLMSG_HEADER_SIZE 16     /* struct nlmsghdr */
#define NLMSG_NFGEN_SIZE 4       /* struct nfgenmsg after it */
#define NLATTR_HEADER_SIZE 4     /* struct nlattr */
#define NLATTR_TYPE_MASK 0x3fff  /* without NLA_F_NESTED, NLA_F_NET_BYTEORDER */

/* linux/netfilter/nfnetlink_queue.h: the attributes read */
#define NLMSG_NFQA_PACKET_HDR 1
#define NLMSG_NFQA_MARK 3
#define NLMSG_NFQA_IFINDEX_OUTDEV 6
#define NLMSG_NFQA_PAYLOAD 10
#define NLMSG_NFQA_CAP_LEN 13
#define NLMSG_NFQA_SKB_INFO 14
#define NLMSG_NFQA_PACKET_HDR_SIZE 7   /* packed: be32 packet_id, be16 hw_protocol, u8 hook */

/* The message at *off of a buffer of len bytes: returns its nlmsg_len (at
 * least NLMSG_HEADER_SIZE, within the buffer) and moves *off to the next
 * one; 0 when no whole message is left. The kernel sets a queued packet's
 * nlmsg_len unpadded, so the last message may end up to 3 bytes before its
 * aligned length would: that ends the walk, never a read past len. */
uint32_t nlmsg_next(const uint8_t *buf, size_t len, size_t *off);
/* nlmsg_type of a message nlmsg_next returned. */
uint16_t nlmsg_type(const uint8_t *msg);

/* What a queued packet's message (NFQNL_MSG_PACKET) carries. */
struct nlmsg_packet {
	int has_hdr;            /* NFQA_PACKET_HDR seen, whole */
	uint32_t packet_id;     /* host order */
	uint8_t hook;
	uint8_t *payload;       /* inside the message, NULL when absent */
	uint32_t payload_len;
	uint32_t mark, outdev, skb_info, cap_len;   /* host order, 0 when absent */
};

/* Walks the attributes of the message msg of msglen bytes (as nlmsg_next
 * returned it) into p. A truncated or malformed attribute ends the walk;
 * what came before it stays. */
void nlmsg_packet_parse(uint8_t *msg, uint32_t msglen, struct nlmsg_packet *p);

#endif
