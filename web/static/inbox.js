// The live inbox: the conversation list beside the open thread, both kept current by socket events.
import { api } from "/static/api.js";
import { clear } from "/static/dom.js";
import { ConversationList } from "/static/conversation_list.js";
import { Thread } from "/static/thread.js";
import { setConversationStatus } from "/static/thread_header.js";

export class Inbox {
  constructor(root, session, staff) {
    this.root = root;
    this.session = session;
    this.staff = staff;
    this.list = new ConversationList({ session, staff, onOpen: (id) => this.open(id) });
    this.thread = new Thread({
      session, staff,
      teams: () => this.list.teams,
      onViewing: (id, typing) => { if (this.onViewing) this.onViewing(id, typing); },
      onMoved: () => {},
    });
    clear(this.root).append(this.list.el, this.thread.el);
  }

  get current() { return this.thread.current; }

  get teams() { return this.list.teams; }

  set teams(teams) { this.list.teams = teams || []; }

  async reload() {
    await this.list.reload();
    if (this.current) await this.open(this.current, { keepScroll: true });
  }

  onEvent(event) {
    const thread = this.thread;
    if (event.type === "timeline.item_added") {
      const viewing = this.current === event.conversation_id && document.visibilityState === "visible";
      const delta = event.item.direction === "in" && !viewing ? 1 : 0;
      this.list.upsert(event.conversation, { unreadDelta: delta });
      if (this.current === event.conversation_id) {
        thread.appendItem(event.item);
        if (event.item.direction === "in") this.markRead(event.item.id);
        const action = (event.item.meta || {}).action;
        if (action === "sms_stop" || action === "sms_start") thread.setOptedOut(action === "sms_stop");
      }
    } else if (event.type === "timeline.item_updated") {
      if (this.current === event.conversation_id) thread.replaceItem(event.item);
    } else if (event.type === "conversation.updated") {
      this.list.upsert(event.conversation);
      if (this.current === event.conversation.id) thread.update(event.conversation);
    } else if (event.type === "timeline.item_moved") {
      if (this.current === event.from_conversation_id) thread.removeItem(event.item_id);
      else if (this.current === event.to_conversation_id) this.refreshSoon();
    } else if (event.type === "conversation.merged") {
      this.list.remove(event.conversation_id);
      if (this.current === event.conversation_id) this.open(event.into_conversation_id);
      else if (this.current === event.into_conversation_id) this.refreshSoon();
    } else if (event.type === "conversation.read") {
      const c = this.list.get(event.conversation_id);
      if (c && event.last_read_item_id >= c.last_inbound_id) this.list.upsert({ ...c, unread: 0 }, { unreadDelta: -c.unread });
    }
  }

  async open(id, { keepScroll = false } = {}) {
    this.list.select(id);
    const summary = await this.thread.open(id, { keepScroll });
    if (summary.unread > 0) this.markRead(this.thread.lastItemId());
  }

  /** Re-read the open thread once a burst of moved items has settled (a move can carry many). */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => { if (this.current) this.open(this.current, { keepScroll: true }); }, 200);
  }

  markRead(itemId) {
    api("POST", `/api/v1/conversations/${this.current}/read`, { item_id: itemId }).catch(() => {});
  }

  async setStatus(status) {
    await setConversationStatus(this.current, status);
  }

  move(step) {
    const next = this.list.neighbour(this.current, step);
    if (next !== undefined) this.open(next);
  }

  showPresence(rows) {
    this.thread.showPresence(rows);
  }

  focusComposer(mode) {
    this.thread.focusComposer(mode);
  }
}
