/* SMB2 IOCTL encode/decode; see ioctl.h. */
#include "wire/ioctl.h"

#include <string.h>
#include <sys/socket.h>

uint32_t smb2_ioctl_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_ioctl_req *out)
{
	memset(out, 0, sizeof(*out));
	if (msg_len < SMB2_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf r = rbuf_make(msg, msg_len);
	rbuf_seek(&r, SMB2_HDR_SIZE);
	uint16_t structure_size = rbuf_u16(&r);
	rbuf_skip(&r, 2);  /* Reserved */
	out->ctl_code = rbuf_u32(&r);
	out->persistent_id = rbuf_u64(&r);
	out->volatile_id = rbuf_u64(&r);
	uint32_t input_offset = rbuf_u32(&r);
	out->input_count = rbuf_u32(&r);
	out->max_input_response = rbuf_u32(&r);
	uint32_t output_offset = rbuf_u32(&r);
	out->output_count = rbuf_u32(&r);
	out->max_output_response = rbuf_u32(&r);
	out->flags = rbuf_u32(&r);
	rbuf_skip(&r, 4);  /* Reserved2 */
	if (r.err || structure_size != SMB2_IOCTL_REQ_SIZE) return STATUS_INVALID_PARAMETER;

	/* 2.2.31: InputOffset/OutputOffset are from the start of the header;
	 * the buffers must lie inside this request and after the fixed part. */
	size_t body_end = SMB2_HDR_SIZE + SMB2_IOCTL_REQ_SIZE - 1;
	if (out->input_count) {
		if (input_offset < body_end || !range_ok(input_offset, out->input_count, msg_len))
			return STATUS_INVALID_PARAMETER;
		out->input = msg + input_offset;
	}
	if (out->output_count) {
		if (output_offset < body_end || !range_ok(output_offset, out->output_count, msg_len))
			return STATUS_INVALID_PARAMETER;
	}
	return STATUS_SUCCESS;
}

void smb2_ioctl_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_ioctl_rsp *r)
{
	size_t body = w->len;
	if (body < hdr_off) {
		w->err = true;
		return;
	}
	/* The fixed part is 48 bytes; a response header starts 8-aligned, so
	 * the buffer right after it (offset 64 + 48 = 112) is 8-aligned too.
	 * Windows puts InputOffset and OutputOffset both there with
	 * InputCount 0 (3.3.5.15: OutputOffset = InputOffset + InputCount
	 * rounded up to 8). */
	size_t buf_off = body - hdr_off + SMB2_IOCTL_RSP_FIXED;
	buf_off = (buf_off + 7) & ~(size_t)7;
	wbuf_u16(w, SMB2_IOCTL_RSP_SIZE);
	wbuf_u16(w, 0);
	wbuf_u32(w, r->ctl_code);
	wbuf_u64(w, r->persistent_id);
	wbuf_u64(w, r->volatile_id);
	wbuf_u32(w, (uint32_t)buf_off);  /* InputOffset */
	wbuf_u32(w, 0);                  /* InputCount */
	wbuf_u32(w, (uint32_t)buf_off);  /* OutputOffset */
	wbuf_u32(w, r->output_count);
	wbuf_u32(w, 0);                  /* Flags */
	wbuf_u32(w, 0);                  /* Reserved2 */
	wbuf_align(w, hdr_off, 8);
	if (r->output_count) wbuf_bytes(w, r->output, r->output_count);
}

bool validate_negotiate_req_decode(const uint8_t *p, size_t len, struct validate_negotiate_req *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf r = rbuf_make(p, len);
	out->capabilities = rbuf_u32(&r);
	rbuf_copy(&r, out->guid, 16);
	out->security_mode = rbuf_u16(&r);
	out->dialect_count = rbuf_u16(&r);
	if (r.err || out->dialect_count == 0 || out->dialect_count > VALIDATE_NEGOTIATE_MAX_DIALECTS) return false;
	for (unsigned i = 0; i < out->dialect_count; i++) out->dialects[i] = rbuf_u16(&r);
	return !r.err;
}

void validate_negotiate_rsp_encode(struct wbuf *w, uint32_t capabilities, const uint8_t guid[16],
				   uint16_t security_mode, uint16_t dialect)
{
	wbuf_u32(w, capabilities);
	wbuf_bytes(w, guid, 16);
	wbuf_u16(w, security_mode);
	wbuf_u16(w, dialect);
}

/* SOCKADDR_STORAGE families as MS-SMB2 2.2.32.5.1 numbers them (the
 * Windows AF_* values, not Linux's). */
#define SMB2_INTERNETWORK 0x0002
#define SMB2_INTERNETWORKV6 0x0017

void network_interface_info_encode(struct wbuf *w, const struct network_interface *ifs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct network_interface *e = &ifs[i];
		size_t start = w->len;
		/* Next: offset from this entry to the next one, 0 for the last */
		wbuf_u32(w, i + 1 < n ? NETWORK_INTERFACE_INFO_SIZE : 0);
		wbuf_u32(w, e->if_index);
		wbuf_u32(w, e->capability);
		wbuf_u32(w, 0);  /* Reserved */
		wbuf_u64(w, e->link_speed);
		/* SockAddr_Storage: 128 bytes, Family then the address. */
		if (e->family == AF_INET6) {
			wbuf_u16(w, SMB2_INTERNETWORKV6);
			wbuf_u16(w, 0);               /* Port */
			wbuf_u32(w, 0);               /* FlowInfo */
			wbuf_bytes(w, e->addr, 16);   /* network byte order */
			wbuf_u32(w, e->scope_id);
		} else {
			wbuf_u16(w, SMB2_INTERNETWORK);
			wbuf_u16(w, 0);               /* Port */
			wbuf_bytes(w, e->addr, 4);    /* network byte order */
		}
		size_t used = w->len - start;
		if (!w->err && used < NETWORK_INTERFACE_INFO_SIZE) wbuf_zero(w, NETWORK_INTERFACE_INFO_SIZE - used);
	}
}

enum srv_copychunk_decode_result srv_copychunk_copy_decode(const uint8_t *p, size_t len,
							    struct srv_copychunk_copy *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf r = rbuf_make(p, len);
	rbuf_copy(&r, out->source_key, SRV_RESUME_KEY_SIZE);
	if (r.err) return SRV_COPYCHUNK_NO_KEY;
	out->chunk_count = rbuf_u32(&r);
	rbuf_skip(&r, 4);  /* Reserved: ignored by the server (2.2.31.1) */
	if (r.err) {
		out->chunk_count = 0;
		return SRV_COPYCHUNK_TRUNCATED;
	}
	/* 2.2.31.1: the array is exactly ChunkCount entries; the product is
	 * computed in 64 bits so a huge count cannot wrap. */
	uint64_t array_len = (uint64_t)out->chunk_count * SRV_COPYCHUNK_SIZE;
	if (array_len > len - SRV_COPYCHUNK_COPY_FIXED) return SRV_COPYCHUNK_TRUNCATED;
	out->chunks = out->chunk_count ? p + SRV_COPYCHUNK_COPY_FIXED : NULL;
	return SRV_COPYCHUNK_OK;
}

void srv_copychunk_get(const struct srv_copychunk_copy *c, uint32_t i, struct srv_copychunk *out)
{
	const uint8_t *e = c->chunks + (size_t)i * SRV_COPYCHUNK_SIZE;
	out->source_offset = get_le64(e);
	out->target_offset = get_le64(e + 8);
	out->length = get_le32(e + 16);
	/* e + 20: Reserved, ignored (2.2.31.1.1) */
}

void srv_copychunk_rsp_encode(struct wbuf *w, uint32_t chunks_written, uint32_t chunk_bytes_written,
			      uint32_t total_bytes_written)
{
	wbuf_u32(w, chunks_written);
	wbuf_u32(w, chunk_bytes_written);
	wbuf_u32(w, total_bytes_written);
}
