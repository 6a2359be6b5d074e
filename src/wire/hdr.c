/* SMB2 packet header (MS-SMB2 2.2.1) and error response (2.2.2). */
#include "wire/smb2.h"

#include <time.h>

bool smb2_hdr_decode(const uint8_t *msg, size_t msg_len, struct smb2_hdr *h)
{
	if (msg_len < SMB2_HDR_SIZE || get_le32(msg) != SMB2_PROTOCOL_ID || get_le16(msg + 4) != 64)
		return false;
	h->credit_charge = get_le16(msg + 6);
	h->status = get_le32(msg + 8);
	h->command = get_le16(msg + 12);
	h->credit = get_le16(msg + 14);
	h->flags = get_le32(msg + 16);
	h->next_command = get_le32(msg + 20);
	h->message_id = get_le64(msg + 24);
	if (h->flags & SMB2_FLAGS_ASYNC_COMMAND) {
		h->async_id = get_le64(msg + 32);
		h->tree_id = 0;
	} else {
		h->async_id = 0;
		h->tree_id = get_le32(msg + 36);
	}
	h->session_id = get_le64(msg + 40);
	memcpy(h->signature, msg + 48, 16);
	return true;
}

void smb2_hdr_encode(uint8_t *out, const struct smb2_hdr *h)
{
	memset(out, 0, SMB2_HDR_SIZE);
	put_le32(out, SMB2_PROTOCOL_ID);
	put_le16(out + 4, 64);
	put_le16(out + 6, h->credit_charge);
	put_le32(out + 8, h->status);
	put_le16(out + 12, h->command);
	put_le16(out + 14, h->credit);
	put_le32(out + 16, h->flags);
	put_le32(out + 20, h->next_command);
	put_le64(out + 24, h->message_id);
	if (h->flags & SMB2_FLAGS_ASYNC_COMMAND) {
		put_le64(out + 32, h->async_id);
	} else {
		put_le32(out + 32, 0xFEFF); /* Reserved: Windows sends the process id 0xFEFF */
		put_le32(out + 36, h->tree_id);
	}
	put_le64(out + 40, h->session_id);
	memcpy(out + 48, h->signature, 16);
}

void smb2_file_basics_encode(struct wbuf *w, const struct smb2_file_basics *b)
{
	wbuf_u64(w, b->creation_time);
	wbuf_u64(w, b->last_access_time);
	wbuf_u64(w, b->last_write_time);
	wbuf_u64(w, b->change_time);
	wbuf_u64(w, b->allocation_size);
	wbuf_u64(w, b->end_of_file);
	wbuf_u32(w, b->file_attributes);
}

void smb2_error_rsp_encode(struct wbuf *w)
{
	/* StructureSize 9 counts one byte of ErrorData that is always present. */
	wbuf_u16(w, 9);
	wbuf_u8(w, 0);   /* ErrorContextCount */
	wbuf_u8(w, 0);   /* Reserved */
	wbuf_u32(w, 0);  /* ByteCount */
	wbuf_u8(w, 0);   /* ErrorData */
}

uint64_t nt_time_from_timespec(int64_t sec, long nsec)
{
	if (sec < -(int64_t)NT_EPOCH_DELTA) return 0;
	return (uint64_t)(sec + (int64_t)NT_EPOCH_DELTA) * 10000000ULL + (uint64_t)nsec / 100;
}

void nt_time_to_timespec(uint64_t nt, int64_t *sec, long *nsec)
{
	*sec = (int64_t)(nt / 10000000ULL) - (int64_t)NT_EPOCH_DELTA;
	*nsec = (long)(nt % 10000000ULL) * 100;
}

uint64_t nt_time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return nt_time_from_timespec(ts.tv_sec, ts.tv_nsec);
}

const char *smb2_command_name(uint16_t cmd)
{
	static const char *const names[] = {
		"NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
		"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL",
		"ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO",
		"OPLOCK_BREAK",
	};
	return cmd < SMB2_COMMAND_COUNT ? names[cmd] : "UNKNOWN";
}
