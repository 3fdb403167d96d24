/*
 * fakecam.c - an LD_PRELOAD shim that makes a user-space V4L2 webcam appear at /dev/videoN.
 *
 * Why: the camera tests must run on machines without /dev/video*, v4l2loopback or CUSE, and
 * they must exercise the real client code (nokhwa -> v4l, ffmpeg, v4l2-ctl), not a mock of it.
 * So instead of faking a library API we fake the kernel boundary: the libc entry points those
 * clients go through (open, ioctl, syscall(SYS_ioctl), poll/select, readdir, stat, close).
 *
 * Design in short (README.md has the user-facing side):
 *  - An opened "/dev/videoN" is a memfd. Buffers live inside it at page-aligned offsets, so the
 *    client's mmap(MAP_SHARED, offset from QUERYBUF) and munmap need no interposing at all.
 *  - The device behaves like uvcvideo: device-global format, one buffer-queue owner, EBUSY for
 *    format changes while buffers exist, ENODEV on every ioctl after an unplug.
 *  - Time, not the reader, drives the frame clock: frame s of a stream is exposed from
 *    t0 + s*T and becomes available at t0 + (s+1)*T (t0 = STREAMON, T = 1/fps). A reader that
 *    is late gets the newest finished frame, and `sequence` shows how many were skipped.
 *  - poll/ppoll/select on a camera fd wait until the next frame is due (a memfd on its own
 *    would always be "readable", which would make v4l's poll + non-blocking DQBUF loop spin).
 *    DQBUF sleeps until due on a blocking fd (ffmpeg) and returns EAGAIN on an O_NONBLOCK fd
 *    when nothing is due yet, exactly like videobuf2.
 *  - Nothing happens unless REEL_FAKECAM or a REEL_FAKECAM_* variable is set: LD_PRELOAD is
 *    inherited by every child process, and those must see a transparent pass-through.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <jpeglib.h>

/* The next definition of a libc symbol, resolved once per call site: dlsym is too slow to
 * repeat on every futex that Rust's std routes through syscall(). */
#define REAL(f) ({ static __typeof__(&f) real_; if (!real_) real_ = (__typeof__(&f))dlsym(RTLD_NEXT, #f); real_; })

#define MAXFD 4096     /* camera fds are tracked in a table indexed by fd number */
#define MAXBUF 32      /* uvcvideo's UVC_MAX_VIDEO_BUFFERS; ffmpeg asks for 256 and gets this */
#define MAXSIZES 16
#define NS 1000000000LL

/* ---------------------------------------------------------------- configuration */

static struct {
    int active, nfmt, nsize, fps, index, busy;
    uint32_t fmts[2], w[MAXSIZES], h[MAXSIZES];
    long disconnect_after;      /* 0 = never */
    long reconnect_ms;          /* <0 = stays unplugged */
    char unplug_file[512];      /* while this file exists, the camera is unplugged ("" = off) */
    char name[32], log[512], devpath[32], syspath[64], uevent[64], devname[16];
} C;

/* ---------------------------------------------------------------- device state */

/* What a uvcvideo device keeps per device rather than per open file. One mutex guards it
 * all; it is never held while sleeping. */
static struct {
    pthread_mutex_t mu;
    int gen;                    /* bumped at each replug: fds from an earlier plug-in are dead */
    int unplugged, unplug_done;
    int64_t unplug_ns;
    long delivered;             /* frames handed out by DQBUF in this process */
    int fmt, size, fps;         /* current format: indexes into C, and the frame rate */
    int32_t ctrl[8];
    int owner, nbufs;           /* fd owning the buffer queue (-1: none) and its buffer count */
    size_t sizeimage, stride;   /* buffer length, and its page-rounded spacing in the memfd */
    int q[MAXBUF], qhead, qlen; /* FIFO of queued buffer indexes */
    uint8_t queued[MAXBUF];
    uint32_t used[MAXBUF];      /* bytesused of each buffer's last frame */
    int streaming;
    int64_t t0;                 /* CLOCK_MONOTONIC ns of STREAMON */
    uint32_t next_seq;          /* first sequence number not yet handed out */
    uint8_t *scratch; size_t scratch_len;
    struct jpeg_compress_struct jc; struct jpeg_error_mgr jerr; jmp_buf jb; int jinit;
} D = { .mu = PTHREAD_MUTEX_INITIALIZER, .owner = -1 };

static struct cfd { uint8_t used; int gen; size_t size; } fdt[MAXFD];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS + ts.tv_nsec;
}

static void logline(const char *fmt, ...)
{
    if (!C.log[0]) return;
    int saved = errno;
    char buf[512];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(buf, sizeof buf, "%ld.%03ld pid=%d ", (long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    /* Opened per line: a daemonising client may close every fd it does not know about. */
    int lfd = REAL(open)(C.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (lfd >= 0) { if (write(lfd, buf, n) < 0) {} REAL(close)(lfd); }
    errno = saved;
}

static const char *env(const char *k, const char *def) { const char *s = getenv(k); return s && *s ? s : def; }

static void parse_config(void)
{
    const char *on = getenv("REEL_FAKECAM");
    for (char **e = environ; e && *e; e++) C.active |= !strncmp(*e, "REEL_FAKECAM_", 13);
    if (on) C.active = *on && strcmp(on, "0") != 0;
    if (!C.active) return;

    char buf[256];
    snprintf(buf, sizeof buf, "%s", env("REEL_FAKECAM_FORMATS", "yuyv,mjpeg"));
    for (char *t = strtok(buf, ", "); t && C.nfmt < 2; t = strtok(NULL, ", ")) {
        uint32_t f = !strcasecmp(t, "yuyv") ? V4L2_PIX_FMT_YUYV
                   : !strcasecmp(t, "mjpeg") || !strcasecmp(t, "mjpg") ? V4L2_PIX_FMT_MJPEG : 0;
        if (f && !(C.nfmt == 1 && C.fmts[0] == f)) C.fmts[C.nfmt++] = f;
    }
    if (!C.nfmt) C.fmts[0] = V4L2_PIX_FMT_YUYV, C.fmts[1] = V4L2_PIX_FMT_MJPEG, C.nfmt = 2;
    snprintf(buf, sizeof buf, "%s", env("REEL_FAKECAM_SIZES", "640x480,1280x720"));
    for (char *t = strtok(buf, ", "); t && C.nsize < MAXSIZES; t = strtok(NULL, ", ")) {
        unsigned w, h;   /* even widths only: YUYV carries one chroma pair per two pixels */
        if (sscanf(t, "%ux%u", &w, &h) == 2 && w >= 16 && h >= 16 && w <= 7680 && h <= 4320 && !(w & 1))
            C.w[C.nsize] = w, C.h[C.nsize++] = h;
    }
    if (!C.nsize) C.w[0] = 640, C.h[0] = 480, C.w[1] = 1280, C.h[1] = 720, C.nsize = 2;
    C.fps = atoi(env("REEL_FAKECAM_FPS", "30"));
    if (C.fps < 1 || C.fps > 240) C.fps = 30;
    C.index = atoi(env("REEL_FAKECAM_INDEX", "0"));
    if (C.index < 0 || C.index > 255) C.index = 0;
    snprintf(C.name, sizeof C.name, "%s", env("REEL_FAKECAM_NAME", "Reel Test Camera"));
    C.disconnect_after = atol(env("REEL_FAKECAM_DISCONNECT_AFTER", "0"));
    C.reconnect_ms = atol(env("REEL_FAKECAM_RECONNECT_AFTER_MS", "-1"));
    snprintf(C.unplug_file, sizeof C.unplug_file, "%s", env("REEL_FAKECAM_UNPLUG_FILE", ""));
    C.busy = strcmp(env("REEL_FAKECAM_BUSY", "0"), "0") != 0;
    snprintf(C.log, sizeof C.log, "%s", env("REEL_FAKECAM_LOG", ""));
    snprintf(C.devname, sizeof C.devname, "video%d", C.index);
    snprintf(C.devpath, sizeof C.devpath, "/dev/video%d", C.index);
    snprintf(C.syspath, sizeof C.syspath, "/sys/class/video4linux/video%d/name", C.index);
    snprintf(C.uevent, sizeof C.uevent, "/sys/dev/char/81:%d/uevent", C.index);
}

/* ---------------------------------------------------------------- controls */

/* A small uvc-like set. nokhwa refuses a device without any control, and the menu and
 * boolean entries exercise the other value types of its control code. Sorted by id, as
 * V4L2_CTRL_FLAG_NEXT_CTRL enumeration requires. Controls do not alter the picture. */
static const struct ctrl_def {
    uint32_t id, type; const char *name; int32_t min, max, step, def;
} CTRLS[] = {
    { V4L2_CID_BRIGHTNESS, V4L2_CTRL_TYPE_INTEGER, "Brightness", -64, 64, 1, 0 },
    { V4L2_CID_CONTRAST, V4L2_CTRL_TYPE_INTEGER, "Contrast", 0, 64, 1, 32 },
    { V4L2_CID_SATURATION, V4L2_CTRL_TYPE_INTEGER, "Saturation", 0, 128, 1, 64 },
    { V4L2_CID_AUTO_WHITE_BALANCE, V4L2_CTRL_TYPE_BOOLEAN, "White Balance, Automatic", 0, 1, 1, 1 },
    { V4L2_CID_POWER_LINE_FREQUENCY, V4L2_CTRL_TYPE_MENU, "Power Line Frequency", 0, 2, 1, 1 },
};
#define NCTRL ((int)(sizeof CTRLS / sizeof CTRLS[0]))
static const char *const PLF_MENU[] = { "Disabled", "50 Hz", "60 Hz" };

static int find_ctrl(uint32_t id)
{
    uint32_t want = id & V4L2_CTRL_ID_MASK;
    for (int i = 0; i < NCTRL; i++)
        if ((id & V4L2_CTRL_FLAG_NEXT_CTRL) ? CTRLS[i].id > want : CTRLS[i].id == want) return i;
    return -1;
}

/* uvcvideo clamps integers into range; a menu index outside the menu is an error. */
static int check_ctrl(int i, int64_t v, int32_t *out)
{
    const struct ctrl_def *c = &CTRLS[i];
    if (c->type == V4L2_CTRL_TYPE_MENU && (v < c->min || v > c->max)) return -EINVAL;
    if (c->type == V4L2_CTRL_TYPE_BOOLEAN) v = v != 0;
    *out = v < c->min ? c->min : v > c->max ? c->max : (int32_t)v;
    return 0;
}

/* ---------------------------------------------------------------- plug state */

/* Called with the lock held, whenever the device is (re)plugged: a replugged camera starts
 * from its defaults, and fds from before the unplug stay dead. */
static void reset_device(void)
{
    D.fmt = D.size = 0;
    D.fps = C.fps;
    for (int i = 0; i < NCTRL; i++) D.ctrl[i] = CTRLS[i].def;
}

static void drop_queue(void)
{
    D.streaming = 0; D.qlen = D.qhead = 0;
    memset(D.queued, 0, sizeof D.queued);
}

/* Reconnection is evaluated lazily from the clock at every entry point (lock held). */
static void refresh(int64_t now)
{
    /* A test holds the plug: the camera is out while its file exists (checked with the real
     * stat, at most once per 20 ms). */
    if (C.unplug_file[0]) {
        static int64_t checked;
        static int out;
        if (now - checked > 20000000LL) {
            struct stat st;
            checked = now;
            out = REAL(stat)(C.unplug_file, &st) == 0;
        }
        if (out && !D.unplugged) {
            D.unplugged = 1;
            D.unplug_ns = now;
            drop_queue();
            D.owner = -1; D.nbufs = 0;
            logline("unplugged %s (%s exists)", C.devpath, C.unplug_file);
        } else if (!out && D.unplugged) {
            D.unplugged = 0;
            D.gen++;
            reset_device();
            logline("replugged %s (%s gone)", C.devpath, C.unplug_file);
        }
        return;
    }
    if (D.unplugged && C.reconnect_ms >= 0 && now >= D.unplug_ns + C.reconnect_ms * 1000000LL) {
        D.unplugged = 0;
        D.gen++;
        reset_device();
        logline("replugged %s", C.devpath);
    }
}

static int present(void)
{
    pthread_mutex_lock(&D.mu);
    refresh(now_ns());
    int p = !D.unplugged;
    pthread_mutex_unlock(&D.mu);
    return p;
}

static int is_cam(int fd) { return C.active && fd >= 0 && fd < MAXFD && fdt[fd].used; }

/* Lock held. An fd survives only within the plug-in it was opened under. */
static int fd_alive(int fd) { return !D.unplugged && fdt[fd].gen == D.gen; }

/* 1: the device node, 2: its sysfs name, 3: its sysfs uevent (v4l2-ctl learns the device type
 * there), 0: anything else. */
static int path_kind(const char *p)
{
    if (!C.active || !p) return 0;
    return !strcmp(p, C.devpath) ? 1 : !strcmp(p, C.syspath) ? 2 : !strcmp(p, C.uevent) ? 3 : 0;
}

/* ---------------------------------------------------------------- the picture */

/* 75% bars, left to right: white, yellow, cyan, green, magenta, red, blue, black. */
static const uint8_t BARS[8][3] = {
    { 191, 191, 191 }, { 191, 191, 0 }, { 0, 191, 191 }, { 0, 191, 0 },
    { 191, 0, 191 }, { 191, 0, 0 }, { 0, 0, 191 }, { 0, 0, 0 },
};

/* A frame has only three distinct rows, so it is assembled from them. */
enum { ROW_BARS, ROW_BLACK, ROW_BITS };

static int row_class(uint32_t y, uint32_t h)
{
    if (4 * y < 3 * h) return ROW_BARS;
    uint32_t ys = (3 * h + 3) / 4, hs = h - ys;   /* the counter strip: rows y >= 3h/4 */
    uint32_t r = 8 * (y - ys);
    return r >= hs && r < 7 * hs ? ROW_BITS : ROW_BLACK;  /* 1/8 of the strip as margin */
}

/* Column x lies in bar/bit floor(8x/w); its counter block leaves 1/8 of the bar each side. */
static void rgb_row(uint8_t *out, uint32_t w, int cls, uint32_t seq)
{
    static const uint8_t one[3] = { 255, 255, 255 };
    for (uint32_t x = 0; x < w; x++, out += 3) {
        uint32_t b = 8 * x / w, r = 8 * x - b * w;
        const uint8_t *c = BARS[7];
        if (cls == ROW_BARS) c = BARS[b];
        else if (cls == ROW_BITS && 8 * r >= w && 8 * r < 7 * w && ((seq & 255) >> (7 - b) & 1)) c = one;
        memcpy(out, c, 3);
    }
}

/* BT.601 limited range, which is what UVC webcams put in YUYV. */
static uint8_t clamp8(double v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5); }
static void rgb_to_yuyv(const uint8_t *rgb, uint8_t *out, uint32_t w)
{
    for (uint32_t x = 0; x < w; x += 2, rgb += 6, out += 4) {
        double cb = 0, cr = 0;
        for (int k = 0; k < 2; k++) {
            double r = rgb[3 * k], g = rgb[3 * k + 1], b = rgb[3 * k + 2];
            out[2 * k] = clamp8(16 + 219.0 * (0.299 * r + 0.587 * g + 0.114 * b) / 255);
            cb += 224.0 * (-0.168736 * r - 0.331264 * g + 0.5 * b) / 255 / 2;
            cr += 224.0 * (0.5 * r - 0.418688 * g - 0.081312 * b) / 255 / 2;
        }
        out[1] = clamp8(128 + cb);
        out[3] = clamp8(128 + cr);
    }
}

static void jpeg_fail(j_common_ptr c) { (void)c; longjmp(D.jb, 1); }

/* MJPEG as a UVC camera sends it: baseline JFIF (full-range YCbCr), 4:2:2, quality 85.
 * `rows` holds the three row classes; returns the JPEG length in D.scratch, or -EIO. */
static long encode_jpeg(uint8_t *rows, uint32_t w, uint32_t h)
{
    unsigned char *out = D.scratch;
    unsigned long outlen = D.sizeimage;
    if (!D.jinit) {
        D.jc.err = jpeg_std_error(&D.jerr);
        D.jerr.error_exit = jpeg_fail;   /* the default one calls exit() */
        jpeg_create_compress(&D.jc);
        D.jinit = 1;
    }
    if (setjmp(D.jb)) { jpeg_abort_compress(&D.jc); return -EIO; }
    D.jc.image_width = w; D.jc.image_height = h;
    D.jc.input_components = 3; D.jc.in_color_space = JCS_RGB;
    jpeg_set_defaults(&D.jc);
    jpeg_set_quality(&D.jc, 85, TRUE);
    D.jc.comp_info[0].h_samp_factor = 2; D.jc.comp_info[0].v_samp_factor = 1;
    jpeg_mem_dest(&D.jc, &out, &outlen);
    jpeg_start_compress(&D.jc, TRUE);
    while (D.jc.next_scanline < h) {
        JSAMPROW row = rows + (size_t)row_class(D.jc.next_scanline, h) * w * 3;
        jpeg_write_scanlines(&D.jc, &row, 1);
    }
    jpeg_finish_compress(&D.jc);
    if (out != D.scratch) { free(out); return -EIO; }   /* outgrew sizeimage: not at q85 */
    return (long)outlen;
}

/* Render frame `seq` of the current format into D.scratch; returns bytesused or -errno.
 * Lock held: it uses the device's scratch buffer and JPEG encoder. */
static long render(uint32_t seq)
{
    uint32_t w = C.w[D.size], h = C.h[D.size];
    if (D.scratch_len < D.sizeimage) {
        free(D.scratch);
        D.scratch = malloc(D.sizeimage);
        D.scratch_len = D.scratch ? D.sizeimage : 0;
        if (!D.scratch) return -ENOMEM;
    }
    uint8_t *rgb = malloc((size_t)w * 3 * 3);
    if (!rgb) return -ENOMEM;
    for (int cls = 0; cls < 3; cls++) rgb_row(rgb + (size_t)cls * w * 3, w, cls, seq);
    long used = (long)w * h * 2;
    if (C.fmts[D.fmt] == V4L2_PIX_FMT_YUYV) {
        uint8_t rows[3][w * 2];
        for (int cls = 0; cls < 3; cls++) rgb_to_yuyv(rgb + (size_t)cls * w * 3, rows[cls], w);
        for (uint32_t y = 0; y < h; y++) memcpy(D.scratch + (size_t)y * w * 2, rows[row_class(y, h)], w * 2);
    } else if ((used = encode_jpeg(rgb, w, h)) >= 0) {
        /* nokhwa decodes the whole mapped buffer: the decoder stops at EOI, and zeros after it
         * keep the tail of a longer previous frame out of sight. */
        memset(D.scratch + used, 0, D.sizeimage - used);
    }
    free(rgb);
    return used;
}

/* ---------------------------------------------------------------- ioctl emulation */

/* The offered rates: the configured one, and half of it when that is a whole number >= 5
 * (so 30 also offers 15), like the several intervals of a real camera. */
static int fps_list(int *out)
{
    int n = 0;
    out[n++] = C.fps;
    if (C.fps % 2 == 0 && C.fps / 2 >= 5) out[n++] = C.fps / 2;
    return n;
}

static int fmt_index(uint32_t fourcc)
{
    for (int i = 0; i < C.nfmt; i++) if (C.fmts[i] == fourcc) return i;
    return -1;
}

/* w*h*2 for MJPEG too: nokhwa needs exactly that for YUYV, and it bounds any q85 JPEG. */
static size_t size_image(int si) { return (size_t)C.w[si] * C.h[si] * 2; }

static void fill_pix(struct v4l2_pix_format *p, int fi, int si)
{
    int yuyv = C.fmts[fi] == V4L2_PIX_FMT_YUYV;
    memset(p, 0, sizeof *p);
    p->width = C.w[si]; p->height = C.h[si];
    p->pixelformat = C.fmts[fi];
    p->field = V4L2_FIELD_NONE;
    p->bytesperline = yuyv ? C.w[si] * 2 : 0;
    p->sizeimage = size_image(si);
    p->colorspace = V4L2_COLORSPACE_SRGB;
    p->priv = V4L2_PIX_FMT_PRIV_MAGIC;
    p->ycbcr_enc = V4L2_YCBCR_ENC_601;
    p->xfer_func = V4L2_XFER_FUNC_SRGB;
    p->quantization = yuyv ? V4L2_QUANTIZATION_LIM_RANGE : V4L2_QUANTIZATION_FULL_RANGE;
}

/* Like uvcvideo: an unknown pixel format falls back to the first one, and the frame size is
 * the nearest offered one. */
static void try_fmt(struct v4l2_pix_format *p, int *fi, int *si)
{
    long best = -1;
    *fi = fmt_index(p->pixelformat);
    if (*fi < 0) *fi = 0;
    for (int i = 0; i < C.nsize; i++) {
        long d = labs((long)C.w[i] - (long)p->width) + labs((long)C.h[i] - (long)p->height);
        if (best < 0 || d < best) best = d, *si = i;
    }
    fill_pix(p, *fi, *si);
}

static void fill_buf(struct v4l2_buffer *b, int i)
{
    uint32_t type = b->type;
    memset(b, 0, sizeof *b);
    b->index = i; b->type = type; b->memory = V4L2_MEMORY_MMAP;
    b->m.offset = i * D.stride;
    b->length = D.sizeimage;
    b->bytesused = D.used[i];
    b->field = V4L2_FIELD_NONE;
    b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_SOE |
               (D.queued[i] ? V4L2_BUF_FLAG_QUEUED : 0);
}

/* G/S/TRY_EXT_CTRLS, and G/S_CTRL through a one-element list. S validates everything first,
 * then applies, as the ioctl is all-or-nothing. */
static int ext_ctrls(unsigned long req, struct v4l2_ext_controls *e)
{
    int32_t vals[MAXBUF];
    if (e->count > MAXBUF) return -EINVAL;
    if (e->count && !e->controls) return -EFAULT;
    for (uint32_t k = 0; k < e->count; k++) {
        struct v4l2_ext_control *c = &e->controls[k];
        int i = find_ctrl(c->id & V4L2_CTRL_ID_MASK);
        if (i < 0) { e->error_idx = req == VIDIOC_G_EXT_CTRLS ? k : e->count; return -EINVAL; }
        if (req == VIDIOC_G_EXT_CTRLS) {
            c->value64 = e->which == V4L2_CTRL_WHICH_DEF_VAL ? CTRLS[i].def : D.ctrl[i];
            continue;
        }
        if (e->which == V4L2_CTRL_WHICH_DEF_VAL) return -EINVAL;
        /* v4l writes value64 with size 8; for 32-bit types the kernel reads the 32-bit
         * member, the same bytes on a little-endian machine. */
        int r = check_ctrl(i, c->value, &vals[k]);
        if (r) { e->error_idx = k; return r; }
    }
    for (uint32_t k = 0; req == VIDIOC_S_EXT_CTRLS && k < e->count; k++)
        D.ctrl[find_ctrl(e->controls[k].id & V4L2_CTRL_ID_MASK)] = e->controls[k].value = vals[k];
    return 0;
}

/* Every ioctl but DQBUF; lock held, fd alive. Returns 0 or -errno; ENOTTY for anything a UVC
 * camera does not implement (standards, tuners, audio, selection, events...). */
static int dispatch(int fd, unsigned long req, void *arg)
{
    switch (req) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *c = arg;
        struct utsname u;
        unsigned a = 0, b = 0, d = 0;
        memset(c, 0, sizeof *c);
        snprintf((char *)c->driver, sizeof c->driver, "uvcvideo");
        snprintf((char *)c->card, sizeof c->card, "%s", C.name);
        snprintf((char *)c->bus_info, sizeof c->bus_info, "usb-0000:00:14.0-%d", C.index + 1);
        if (!uname(&u)) sscanf(u.release, "%u.%u.%u", &a, &b, &d);
        c->version = (a << 16) | (b << 8) | (d > 255 ? 255 : d);   /* uvc reports the kernel's */
        c->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
        c->capabilities = c->device_caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *f = arg;
        uint32_t i = f->index, t = f->type;
        if (t != V4L2_BUF_TYPE_VIDEO_CAPTURE || i >= (uint32_t)C.nfmt) return -EINVAL;
        int mj = C.fmts[i] == V4L2_PIX_FMT_MJPEG;
        memset(f, 0, sizeof *f);
        f->index = i; f->type = t; f->pixelformat = C.fmts[i];
        f->flags = mj ? V4L2_FMT_FLAG_COMPRESSED : 0;
        snprintf((char *)f->description, sizeof f->description, mj ? "Motion-JPEG" : "YUYV 4:2:2");
        return 0;
    }
    case VIDIOC_ENUM_FRAMESIZES: {
        struct v4l2_frmsizeenum *s = arg;
        if (fmt_index(s->pixel_format) < 0 || s->index >= (uint32_t)C.nsize) return -EINVAL;
        s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
        s->discrete.width = C.w[s->index]; s->discrete.height = C.h[s->index];
        return 0;
    }
    case VIDIOC_ENUM_FRAMEINTERVALS: {
        struct v4l2_frmivalenum *v = arg;
        int list[2], n = fps_list(list), ok = 0;
        for (int i = 0; i < C.nsize; i++) ok |= C.w[i] == v->width && C.h[i] == v->height;
        if (fmt_index(v->pixel_format) < 0 || !ok || v->index >= (uint32_t)n) return -EINVAL;
        v->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        v->discrete.numerator = 1; v->discrete.denominator = list[v->index];
        return 0;
    }
    case VIDIOC_G_FMT: case VIDIOC_S_FMT: case VIDIOC_TRY_FMT: {
        struct v4l2_format *f = arg;
        int fi = 0, si = 0;
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return -EINVAL;
        if (req == VIDIOC_G_FMT) { fill_pix(&f->fmt.pix, D.fmt, D.size); return 0; }
        /* Another app streaming, or our own buffers allocated: uvcvideo says EBUSY. */
        if (req == VIDIOC_S_FMT && (C.busy || D.nbufs > 0)) return -EBUSY;
        try_fmt(&f->fmt.pix, &fi, &si);
        if (req == VIDIOC_S_FMT) D.fmt = fi, D.size = si;
        return 0;
    }
    case VIDIOC_G_PARM: case VIDIOC_S_PARM: {
        struct v4l2_streamparm *p = arg;
        if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return -EINVAL;
        if (req == VIDIOC_S_PARM) {
            if (C.busy || D.streaming) return -EBUSY;
            struct v4l2_fract t = p->parm.capture.timeperframe;
            int list[2] = { 0, 0 }, n = fps_list(list), best = 0;
            double want = t.numerator && t.denominator ? (double)t.denominator / t.numerator : C.fps;
            for (int i = 1; i < n; i++)   /* the nearest offered rate */
                if ((list[i] - want) * (list[i] - want) < (list[best] - want) * (list[best] - want)) best = i;
            D.fps = list[best];
        }
        memset(&p->parm, 0, sizeof p->parm);
        p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        p->parm.capture.timeperframe.numerator = 1;
        p->parm.capture.timeperframe.denominator = D.fps;
        return 0;
    }
    case VIDIOC_G_INPUT: *(int *)arg = 0; return 0;
    case VIDIOC_S_INPUT: return *(int *)arg == 0 ? 0 : -EINVAL;
    case VIDIOC_ENUMINPUT: {
        struct v4l2_input *in = arg;
        if (in->index != 0) return -EINVAL;
        memset(in, 0, sizeof *in);
        snprintf((char *)in->name, sizeof in->name, "Camera 1");
        in->type = V4L2_INPUT_TYPE_CAMERA;
        return 0;
    }
    case VIDIOC_G_PRIORITY: *(uint32_t *)arg = V4L2_PRIORITY_DEFAULT; return 0;
    case VIDIOC_S_PRIORITY: return 0;
    case VIDIOC_QUERYCTRL: case VIDIOC_QUERY_EXT_CTRL: {
        uint32_t id = *(uint32_t *)arg;   /* both structs start with the id */
        /* NEXT_COMPOUND alone asks for compound controls only, and there are none. */
        if ((id & V4L2_CTRL_FLAG_NEXT_COMPOUND) && !(id & V4L2_CTRL_FLAG_NEXT_CTRL)) return -EINVAL;
        int i = find_ctrl(id);
        if (i < 0) return -EINVAL;
        const struct ctrl_def *c = &CTRLS[i];
#define FILL_Q(q) (memset(q, 0, sizeof *q), q->id = c->id, q->type = c->type, q->minimum = c->min, \
    q->maximum = c->max, q->step = c->step, q->default_value = c->def, \
    snprintf((char *)q->name, sizeof q->name, "%s", c->name))
        if (req == VIDIOC_QUERYCTRL) FILL_Q(((struct v4l2_queryctrl *)arg));
        else {
            struct v4l2_query_ext_ctrl *q = arg;
            FILL_Q(q);
            q->elem_size = 4; q->elems = 1;
        }
        return 0;
    }
    case VIDIOC_QUERYMENU: {
        struct v4l2_querymenu *m = arg;
        int i = find_ctrl(m->id & V4L2_CTRL_ID_MASK);
        if (i < 0 || CTRLS[i].type != V4L2_CTRL_TYPE_MENU || m->index > 2) return -EINVAL;
        uint32_t id = m->id, idx = m->index;
        memset(m, 0, sizeof *m);
        m->id = id; m->index = idx;
        snprintf((char *)m->name, sizeof m->name, "%s", PLF_MENU[idx]);
        return 0;
    }
    case VIDIOC_G_CTRL: case VIDIOC_S_CTRL: {
        struct v4l2_control *c = arg;
        struct v4l2_ext_control x = { .id = c->id, .value = c->value };
        struct v4l2_ext_controls e = { .count = 1, .controls = &x };
        int r = ext_ctrls(req == VIDIOC_G_CTRL ? VIDIOC_G_EXT_CTRLS : VIDIOC_S_EXT_CTRLS, &e);
        if (!r) c->value = x.value;
        return r;
    }
    case VIDIOC_G_EXT_CTRLS: case VIDIOC_S_EXT_CTRLS: case VIDIOC_TRY_EXT_CTRLS:
        return ext_ctrls(req, arg);
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *rb = arg;
        if (rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || rb->memory != V4L2_MEMORY_MMAP) return -EINVAL;
        if (C.busy || (D.owner >= 0 && D.owner != fd) || D.streaming) return -EBUSY;
        uint32_t n = rb->count > MAXBUF ? MAXBUF : rb->count;
        drop_queue();
        memset(D.used, 0, sizeof D.used);
        D.nbufs = n;
        D.owner = n ? fd : -1;
        if (n) {
            long pg = sysconf(_SC_PAGESIZE);
            D.sizeimage = size_image(D.size);
            D.stride = (D.sizeimage + pg - 1) / pg * pg;
            /* Grow only: a shrink would SIGBUS a client that still has an old mapping. */
            if (fdt[fd].size < n * D.stride) {
                if (ftruncate(fd, n * D.stride)) { D.nbufs = 0; D.owner = -1; return -ENOMEM; }
                fdt[fd].size = n * D.stride;
            }
        }
        rb->count = n;
        rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
        return 0;
    }
    case VIDIOC_QUERYBUF: case VIDIOC_QBUF: {
        struct v4l2_buffer *b = arg;
        if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || D.owner != fd || b->index >= (uint32_t)D.nbufs) return -EINVAL;
        if (req == VIDIOC_QBUF) {
            if (b->memory != V4L2_MEMORY_MMAP || D.queued[b->index]) return -EINVAL;
            D.queued[b->index] = 1;
            D.q[(D.qhead + D.qlen++) % MAXBUF] = b->index;
        }
        fill_buf(b, b->index);
        return 0;
    }
    case VIDIOC_STREAMON: case VIDIOC_STREAMOFF:
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE) return -EINVAL;
        if (req == VIDIOC_STREAMON) {
            if (C.busy) return -EBUSY;
            if (D.owner != fd || !D.nbufs) return -EINVAL;
            if (!D.streaming) D.streaming = 1, D.t0 = now_ns(), D.next_seq = 0;
            return 0;
        }
        if (D.owner >= 0 && D.owner != fd) return -EBUSY;
        drop_queue();   /* STREAMOFF hands every buffer back, streaming or not */
        return 0;
    }
    return -ENOTTY;
}

/* Rounded up, so that at the due time the clock arithmetic in do_dqbuf sees frame `seq` done. */
static int64_t frame_due(uint32_t seq) { return D.t0 + ((int64_t)(seq + 1) * NS + D.fps - 1) / D.fps; }

/* DQBUF does its own locking because it may sleep until the next frame is due. */
static int do_dqbuf(int fd, struct v4l2_buffer *b)
{
    for (;;) {
        pthread_mutex_lock(&D.mu);
        int64_t now = now_ns();
        refresh(now);
        int r = !fd_alive(fd) ? -ENODEV : b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->memory != V4L2_MEMORY_MMAP ||
                D.owner != fd || !D.streaming ? -EINVAL : 1;
        int64_t due = frame_due(D.next_seq);
        if (r == 1 && D.qlen && now >= due) {
            /* The newest finished frame; older ones nobody fetched were dropped. */
            uint32_t seq = (uint32_t)((now - D.t0) * D.fps / NS) - 1;
            if (seq < D.next_seq) seq = D.next_seq;
            int i = D.q[D.qhead];
            long used = render(seq);
            if (used >= 0 && pwrite(fd, D.scratch, D.sizeimage, (off_t)i * D.stride) != (ssize_t)D.sizeimage)
                used = -EIO;
            r = used < 0 ? (int)used : 0;
            if (!r) {
                D.qhead = (D.qhead + 1) % MAXBUF; D.qlen--;
                D.queued[i] = 0;
                D.used[i] = used;
                fill_buf(b, i);
                int64_t ts = D.t0 + (int64_t)seq * NS / D.fps;   /* start of exposure, as uvc's SOE */
                b->timestamp.tv_sec = ts / NS;
                b->timestamp.tv_usec = ts % NS / 1000;
                b->sequence = seq;
                D.next_seq = seq + 1;
                if (++D.delivered == C.disconnect_after && !D.unplug_done) {
                    D.unplugged = D.unplug_done = 1;
                    D.unplug_ns = now;
                    drop_queue();
                    D.owner = -1; D.nbufs = 0;
                    logline("unplugged %s after %ld frames", C.devpath, D.delivered);
                }
            }
        }
        /* Nothing queued: a real driver waits for a QBUF from another thread; re-check each period. */
        if (r == 1 && !D.qlen) due = now + NS / D.fps;
        pthread_mutex_unlock(&D.mu);
        if (r != 1) return r;
        if (fcntl(fd, F_GETFL) & O_NONBLOCK) return -EAGAIN;
        struct timespec ts = { due / NS, due % NS };
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) return -EINTR;
    }
}

static const char *ioctl_name(unsigned long req)
{
    static const struct { unsigned long r; const char *n; } T[] = {
#define N(x) { x, #x + 7 }
        N(VIDIOC_QUERYCAP), N(VIDIOC_ENUM_FMT), N(VIDIOC_G_FMT), N(VIDIOC_S_FMT), N(VIDIOC_TRY_FMT),
        N(VIDIOC_ENUM_FRAMESIZES), N(VIDIOC_ENUM_FRAMEINTERVALS), N(VIDIOC_G_PARM), N(VIDIOC_S_PARM),
        N(VIDIOC_REQBUFS), N(VIDIOC_QUERYBUF), N(VIDIOC_QBUF), N(VIDIOC_DQBUF), N(VIDIOC_STREAMON),
        N(VIDIOC_STREAMOFF), N(VIDIOC_QUERYCTRL), N(VIDIOC_QUERY_EXT_CTRL), N(VIDIOC_QUERYMENU),
        N(VIDIOC_G_CTRL), N(VIDIOC_S_CTRL), N(VIDIOC_G_EXT_CTRLS), N(VIDIOC_S_EXT_CTRLS),
        N(VIDIOC_TRY_EXT_CTRLS), N(VIDIOC_G_INPUT), N(VIDIOC_S_INPUT), N(VIDIOC_ENUMINPUT),
        N(VIDIOC_G_STD), N(VIDIOC_ENUMSTD), N(VIDIOC_G_PRIORITY), N(VIDIOC_S_PRIORITY),
        N(VIDIOC_G_SELECTION), N(VIDIOC_CROPCAP), N(VIDIOC_SUBSCRIBE_EVENT), N(VIDIOC_CREATE_BUFS),
#undef N
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) if (T[i].r == req) return T[i].n;
    return NULL;
}

static int cam_ioctl(int fd, unsigned long req, void *arg)
{
    int r;
    if (!arg && _IOC_SIZE(req)) r = -EFAULT;
    else if (req == VIDIOC_DQBUF) r = do_dqbuf(fd, arg);
    else {
        pthread_mutex_lock(&D.mu);
        refresh(now_ns());
        r = fd_alive(fd) ? dispatch(fd, req, arg) : -ENODEV;
        pthread_mutex_unlock(&D.mu);
    }
    if (C.log[0]) {
        const char *n = ioctl_name(req);
        char hex[24];
        struct v4l2_buffer *b = arg;
        if (!n) snprintf(hex, sizeof hex, "0x%08lx", req), n = hex;
        if (req == VIDIOC_DQBUF && !r)
            logline("fd=%d DQBUF -> 0 index=%u seq=%u bytesused=%u", fd, b->index, b->sequence, b->bytesused);
        else logline("fd=%d %s -> %d%s%s", fd, n, r ? -1 : 0, r ? " " : "", r ? strerror(-r) : "");
    }
    if (r < 0) { errno = -r; return -1; }
    return 0;
}

/* ---------------------------------------------------------------- open / close */

/* Returns a new fd, -1 with errno, or -2 for "not ours". */
static int cam_open(const char *path, int flags)
{
    int kind = path_kind(path);
    if (!kind) return -2;
    if (!present()) { errno = ENOENT; return -1; }
    int fd = memfd_create(kind == 1 ? C.devname : "fakecam-sysfs", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (fd < 0) return -1;
    if (kind > 1) {
        /* sysfs "name" is what v4l's Node::name() and hence nokhwa::query() report. */
        char txt[80];
        int n = kind == 2 ? snprintf(txt, sizeof txt, "%s\n", C.name)
                          : snprintf(txt, sizeof txt, "MAJOR=81\nMINOR=%d\nDEVNAME=%s\n", C.index, C.devname);
        if (write(fd, txt, n) != n || lseek(fd, 0, SEEK_SET)) { REAL(close)(fd); errno = EIO; return -1; }
        return fd;
    }
    if (fd >= MAXFD) { REAL(close)(fd); errno = EMFILE; return -1; }
    /* Kept as the memfd's own status flag, so a later fcntl(F_SETFL) is honoured too. */
    if (flags & O_NONBLOCK) fcntl(fd, F_SETFL, O_NONBLOCK);
    pthread_mutex_lock(&D.mu);
    fdt[fd] = (struct cfd){ .used = 1, .gen = D.gen, .size = 0 };
    pthread_mutex_unlock(&D.mu);
    logline("open %s flags=0x%x -> fd=%d", path, flags, fd);
    return fd;
}

static void cam_forget(int fd)
{
    pthread_mutex_lock(&D.mu);
    if (D.owner == fd && fdt[fd].gen == D.gen) drop_queue(), D.owner = -1, D.nbufs = 0;
    fdt[fd].used = 0;
    pthread_mutex_unlock(&D.mu);
    logline("close fd=%d", fd);
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

#define OPEN_WRAP(fn, ...) { va_list ap; va_start(ap, flags); mode_t m = va_mode(flags, ap); va_end(ap); \
    int r_ = cam_open(path, flags); return r_ != -2 ? r_ : REAL(fn)(__VA_ARGS__, m); }
int open(const char *path, int flags, ...) OPEN_WRAP(open, path, flags)
int open64(const char *path, int flags, ...) OPEN_WRAP(open64, path, flags)
int openat(int dir, const char *path, int flags, ...) OPEN_WRAP(openat, dir, path, flags)
int openat64(int dir, const char *path, int flags, ...) OPEN_WRAP(openat64, dir, path, flags)
/* The _FORTIFY_SOURCE entry points. */
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int dir, const char *path, int flags) { return openat(dir, path, flags); }
int __openat64_2(int dir, const char *path, int flags) { return openat64(dir, path, flags); }

/* v4l2-ctl reads the uevent file with an ifstream, i.e. fopen. */
static FILE *cam_fopen(const char *path, const char *mode)
{
    int fd = cam_open(path, 0);
    return fd < 0 ? NULL : fdopen(fd, mode);
}
FILE *fopen(const char *p, const char *m) { return path_kind(p) > 1 ? cam_fopen(p, m) : REAL(fopen)(p, m); }
FILE *fopen64(const char *p, const char *m) { return path_kind(p) > 1 ? cam_fopen(p, m) : REAL(fopen64)(p, m); }

int close(int fd)
{
    if (is_cam(fd)) cam_forget(fd);
    return REAL(close)(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return is_cam(fd) ? cam_ioctl(fd, req, arg) : REAL(ioctl)(fd, req, arg);
}

/* ---------------------------------------------------------------- stat / access / xattr */

static struct timespec g_birth;  /* "when the camera was plugged in": shim load time */

static void fill_stat(struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(0, 5);            /* devtmpfs */
    st->st_ino = 1000 + C.index;
    st->st_mode = S_IFCHR | 0660;
    st->st_nlink = 1;
    st->st_gid = 44;                       /* Debian's "video" group */
    st->st_rdev = makedev(81, C.index);    /* the V4L major */
    st->st_blksize = 4096;
    st->st_atim = st->st_mtim = st->st_ctim = g_birth;
}

static void fill_statx(struct statx *sx)
{
    memset(sx, 0, sizeof *sx);
    sx->stx_mask = STATX_BASIC_STATS;
    sx->stx_blksize = 4096; sx->stx_nlink = 1; sx->stx_gid = 44;
    sx->stx_mode = S_IFCHR | 0660; sx->stx_ino = 1000 + C.index;
    sx->stx_rdev_major = 81; sx->stx_rdev_minor = C.index; sx->stx_dev_minor = 5;
    sx->stx_atime.tv_sec = sx->stx_mtime.tv_sec = sx->stx_ctime.tv_sec = g_birth.tv_sec;
}

/* -2: not ours; else the result of a stat of the device path, or of a camera fd via "". */
static int stat_hook(int fd, const char *path, int flags, void *st, int is_statx)
{
    int ours = path && !path[0] && (flags & AT_EMPTY_PATH) ? is_cam(fd) : path_kind(path) == 1;
    if (!ours) return -2;
    if (path[0] && !present()) { errno = ENOENT; return -1; }
    if (is_statx) fill_statx(st); else fill_stat(st);
    return 0;
}

/* glibc >= 2.33 exports stat & co. directly; Debian 12's binaries use these. */
#define SP(call, p, st) { int r_ = stat_hook(AT_FDCWD, p, 0, st, 0); return r_ != -2 ? r_ : call; }
#define SF(call, fd, st) { if (is_cam(fd)) { fill_stat((struct stat *)(st)); return 0; } return call; }
#define SAT(call, d, p, st, f) { int r_ = stat_hook(d, p, f, st, 0); return r_ != -2 ? r_ : call; }
int stat(const char *p, struct stat *st) SP(REAL(stat)(p, st), p, st)
int stat64(const char *p, struct stat64 *st) SP(REAL(stat64)(p, st), p, st)
int lstat(const char *p, struct stat *st) SP(REAL(lstat)(p, st), p, st)
int lstat64(const char *p, struct stat64 *st) SP(REAL(lstat64)(p, st), p, st)
int fstat(int fd, struct stat *st) SF(REAL(fstat)(fd, st), fd, st)
int fstat64(int fd, struct stat64 *st) SF(REAL(fstat64)(fd, st), fd, st)
int fstatat(int d, const char *p, struct stat *st, int f) SAT(REAL(fstatat)(d, p, st, f), d, p, st, f)
int fstatat64(int d, const char *p, struct stat64 *st, int f) SAT(REAL(fstatat64)(d, p, st, f), d, p, st, f)
int statx(int d, const char *p, int f, unsigned mask, struct statx *sx)
{ int r = stat_hook(d, p, f, sx, 1); return r != -2 ? r : REAL(statx)(d, p, f, mask, sx); }

static int access_hook(const char *p)
{
    if (!path_kind(p)) return -2;
    if (present()) return 0;
    errno = ENOENT;
    return -1;
}
int access(const char *p, int m) { int r = access_hook(p); return r != -2 ? r : REAL(access)(p, m); }
int euidaccess(const char *p, int m) { int r = access_hook(p); return r != -2 ? r : REAL(euidaccess)(p, m); }
int faccessat(int d, const char *p, int m, int f) { int r = access_hook(p); return r != -2 ? r : REAL(faccessat)(d, p, m, f); }

/* `ls -l` asks for SELinux labels and ACLs: a device node simply has none. */
#define XA(call, p) { int r_ = access_hook(p); if (r_ == 0) errno = ENODATA; return r_ == -2 ? call : -1; }
#define XL(call, p) { int r_ = access_hook(p); return r_ == -2 ? call : r_; }
ssize_t getxattr(const char *p, const char *n, void *v, size_t s) XA(REAL(getxattr)(p, n, v, s), p)
ssize_t lgetxattr(const char *p, const char *n, void *v, size_t s) XA(REAL(lgetxattr)(p, n, v, s), p)
ssize_t listxattr(const char *p, char *l, size_t s) XL(REAL(listxattr)(p, l, s), p)
ssize_t llistxattr(const char *p, char *l, size_t s) XL(REAL(llistxattr)(p, l, s), p)

/* ---------------------------------------------------------------- syscall() */

/* v4l issues every ioctl as syscall(SYS_ioctl, ...) and Rust's std sends futex and statx
 * through here too: everything that is not about the camera is forwarded with all six
 * arguments (reading unpassed ones is harmless on x86-64; glibc's own syscall does it). */
long syscall(long nr, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (C.active) {
        int fd = (int)a[0], r = -2;
        switch (nr) {
        case SYS_ioctl: if (is_cam(fd)) return cam_ioctl(fd, a[1], (void *)a[2]); break;
        case SYS_close: if (is_cam(fd)) cam_forget(fd); break;
        case SYS_open: r = cam_open((const char *)a[0], (int)a[1]); break;
        case SYS_openat: r = cam_open((const char *)a[1], (int)a[2]); break;
        case SYS_statx: r = stat_hook(fd, (const char *)a[1], (int)a[2], (void *)a[4], 1); break;
        case SYS_newfstatat: r = stat_hook(fd, (const char *)a[1], (int)a[3], (void *)a[2], 0); break;
        case SYS_fstat: if (is_cam(fd)) { fill_stat((void *)a[1]); return 0; } break;
        case SYS_access: r = access_hook((const char *)a[0]); break;
        case SYS_faccessat: case SYS_faccessat2: r = access_hook((const char *)a[1]); break;
        }
        if (r != -2) return r;
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---------------------------------------------------------------- poll / select */

/* Lock held. What poll would report for camera fd `fd` now; if nothing, *due is when to look
 * again. Mirrors videobuf2: not streaming -> POLLERR; unplugged -> POLLERR|POLLHUP. */
static short cam_revents(int fd, short events, int64_t now, int64_t *due)
{
    if (!fd_alive(fd)) return POLLERR | POLLHUP;
    if (!D.streaming || D.owner != fd) return POLLERR;
    if (!(events & (POLLIN | POLLRDNORM)) || !D.qlen) return 0;
    int64_t t = frame_due(D.next_seq);
    if (now >= t) return events & (POLLIN | POLLRDNORM);
    *due = t;
    return 0;
}

/* poll over a mix of camera and ordinary fds: the ordinary ones go to the real ppoll (camera
 * entries masked as fd -1), whose timeout is cut short at the next frame's due time. */
static int cam_poll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    int64_t deadline = tmo ? now_ns() + tmo->tv_sec * NS + tmo->tv_nsec : INT64_MAX;
    struct pollfd lp[16], *cp = n <= 16 ? lp : malloc(n * sizeof *cp);
    short lr[16], *cr = n <= 16 ? lr : malloc(n * sizeof *cr);
    int ret = -1;
    if (!cp || !cr) errno = ENOMEM;
    while (cp && cr) {
        int64_t now = now_ns(), wake = deadline;
        int ready = 0;
        pthread_mutex_lock(&D.mu);
        refresh(now);
        for (nfds_t i = 0; i < n; i++) {
            int64_t due = INT64_MAX;
            cp[i] = fds[i];
            cr[i] = -1;
            if (!is_cam(fds[i].fd)) continue;
            cr[i] = cam_revents(fds[i].fd, fds[i].events, now, &due);
            ready += cr[i] != 0;
            if (due < wake) wake = due;
            cp[i].fd = -1;
        }
        pthread_mutex_unlock(&D.mu);
        struct timespec ts = { 0, 0 }, *tp = &ts;
        if (!ready && wake == INT64_MAX) tp = NULL;
        else if (!ready && wake > now) ts.tv_sec = (wake - now) / NS, ts.tv_nsec = (wake - now) % NS;
        if ((ret = REAL(ppoll)(cp, n, tp, mask)) < 0) break;
        for (nfds_t i = 0; i < n; i++) fds[i].revents = cr[i] >= 0 ? cr[i] : cp[i].revents;
        ret += ready;
        if (ret > 0 || now_ns() >= deadline) break;
    }
    if (cp != lp) free(cp);
    if (cr != lr) free(cr);
    return ret;
}

static int has_cam(struct pollfd *fds, nfds_t n)
{
    for (nfds_t i = 0; i < n; i++) if (is_cam(fds[i].fd)) return 1;
    return 0;
}

int poll(struct pollfd *fds, nfds_t n, int ms)
{
    struct timespec t = { ms / 1000, ms % 1000 * 1000000L };
    return has_cam(fds, n) ? cam_poll(fds, n, ms < 0 ? NULL : &t, NULL) : REAL(poll)(fds, n, ms);
}
int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t len) { (void)len; return poll(fds, n, ms); }
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m)
{ return has_cam(fds, n) ? cam_poll(fds, n, t, m) : REAL(ppoll)(fds, n, t, m); }

/* select is turned into poll when a camera fd is in one of the sets (v4l2-ctl uses it). */
static int cam_select(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m)
{
    struct pollfd p[FD_SETSIZE];
    nfds_t n = 0;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
        short ev = (r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
                   (e && FD_ISSET(fd, e) ? POLLPRI : 0);
        if (ev) p[n++] = (struct pollfd){ fd, ev, 0 };
    }
    int ret = cam_poll(p, n, t, m), cnt = 0;
    if (ret < 0) return ret;
    for (nfds_t i = 0; i < n; i++) if (p[i].revents & POLLNVAL) { errno = EBADF; return -1; }
    if (r) FD_ZERO(r);
    if (w) FD_ZERO(w);
    if (e) FD_ZERO(e);
    for (nfds_t i = 0; i < n; i++) {
        short v = p[i].revents, ev = p[i].events;
        if ((ev & POLLIN) && (v & (POLLIN | POLLHUP | POLLERR))) FD_SET(p[i].fd, r), cnt++;
        if ((ev & POLLOUT) && (v & (POLLOUT | POLLERR))) FD_SET(p[i].fd, w), cnt++;
        if ((ev & POLLPRI) && (v & POLLPRI)) FD_SET(p[i].fd, e), cnt++;
    }
    return cnt;
}

static int sets_have_cam(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
    for (int fd = 0; C.active && fd < nfds && fd < FD_SETSIZE; fd++)
        if (is_cam(fd) && ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e)))) return 1;
    return 0;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    if (!sets_have_cam(nfds, r, w, e)) return REAL(select)(nfds, r, w, e, tv);
    struct timespec t = { tv ? tv->tv_sec : 0, tv ? tv->tv_usec * 1000L : 0 };
    int64_t start = now_ns();
    int ret = cam_select(nfds, r, w, e, tv ? &t : NULL, NULL);
    if (tv) {   /* Linux's select reports the time left */
        int64_t left = t.tv_sec * NS + t.tv_nsec - (now_ns() - start);
        if (left < 0) left = 0;
        tv->tv_sec = left / NS; tv->tv_usec = left % NS / 1000;
    }
    return ret;
}
int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m)
{ return sets_have_cam(nfds, r, w, e) ? cam_select(nfds, r, w, e, t, m) : REAL(pselect)(nfds, r, w, e, t, m); }

/* ---------------------------------------------------------------- /dev listing */

/* Listings of /dev get the node appended after the real entries, unless it is unplugged. */
static struct { DIR *d; int done; struct dirent64 ent; } dirs[16];

DIR *opendir(const char *name)
{
    DIR *d = REAL(opendir)(name);
    if (d && C.active && (!strcmp(name, "/dev") || !strcmp(name, "/dev/"))) {
        pthread_mutex_lock(&D.mu);
        for (int i = 0; i < 16; i++)
            if (!dirs[i].d) { dirs[i].d = d; dirs[i].done = 0; break; }
        pthread_mutex_unlock(&D.mu);
    }
    return d;
}

static int dir_slot(DIR *d)
{
    for (int i = 0; C.active && i < 16; i++) if (dirs[i].d == d) return i;
    return -1;
}

static struct dirent64 *inject(DIR *d, struct dirent64 *e, int saved_errno)
{
    int i = dir_slot(d);
    if (i < 0) return e;
    if (e) {   /* a real node of that name wins */
        if (!strcmp(e->d_name, C.devname)) dirs[i].done = 1;
        return e;
    }
    if (errno != saved_errno || dirs[i].done) return NULL;
    dirs[i].done = 1;
    if (!present()) return NULL;
    struct dirent64 *x = &dirs[i].ent;
    memset(x, 0, sizeof *x);
    x->d_ino = 1000 + C.index;
    x->d_off = INT64_MAX;
    x->d_reclen = sizeof *x;
    x->d_type = DT_CHR;
    snprintf(x->d_name, sizeof x->d_name, "%s", C.devname);
    errno = saved_errno;
    return x;
}

/* Rust's read_dir uses readdir64; C programs readdir. Same layout on x86-64. */
struct dirent64 *readdir64(DIR *d) { int s = errno; return inject(d, REAL(readdir64)(d), s); }
struct dirent *readdir(DIR *d) { int s = errno; return (struct dirent *)inject(d, (struct dirent64 *)REAL(readdir)(d), s); }
void rewinddir(DIR *d) { int i = dir_slot(d); if (i >= 0) dirs[i].done = 0; REAL(rewinddir)(d); }
int closedir(DIR *d)
{
    int i = dir_slot(d);
    if (i >= 0) dirs[i].d = NULL;
    return REAL(closedir)(d);
}

/* ---------------------------------------------------------------- load time */

__attribute__((constructor)) static void fakecam_init(void)
{
    parse_config();
    if (!C.active) return;
    clock_gettime(CLOCK_REALTIME, &g_birth);
    reset_device();
    logline("fakecam active: %s \"%s\" %d format(s), %d size(s), %d fps%s", C.devpath, C.name, C.nfmt,
            C.nsize, C.fps, C.busy ? ", busy" : "");
}
