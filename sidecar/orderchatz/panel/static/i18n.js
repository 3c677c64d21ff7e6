// Every user-visible string of the panel, zh-TW first (the default), English when the WordPress
// locale starts with "en". Placeholders look like {name}.
const CATALOG = {
  zh_TW: {
    skip_to_list: "跳到好友列表", skip_to_composer: "跳到訊息輸入框",
    conversations: "對話", search_label: "搜尋好友", search_placeholder: "搜尋名稱、標籤或電話",
    filters: "篩選", filter_all: "全部", filter_unread: "未讀", filter_unbound: "未綁定",
    filter_blocked: "已封鎖", filter_tag: "依標籤篩選", filter_any_tag: "所有標籤",
    back: "返回", customer: "顧客資料", choose_conversation: "選擇一個對話",
    choose_conversation_hint: "從左側選擇對話開始回覆顧客。",
    composer_label: "輸入訊息", composer_placeholder: "輸入訊息，Enter 傳送，Shift+Enter 換行",
    send_product: "傳送商品", send: "傳送", counter: "{n} / {max}",
    too_long: "超過 LINE 的 {max} 字元上限",
    no_conversations: "沒有符合的對話", loading: "載入中…", load_failed: "載入失敗",
    try_again: "重試", bound: "已綁定", unbound: "未綁定", blocked: "已封鎖",
    unread_n: "{n} 則未讀", you: "你：",
    today: "今天", yesterday: "昨天",
    history_start: "對話的開頭", unsent: "已收回", unsupported: "[不支援的訊息]",
    status_queued: "排隊中", status_sending: "傳送中", status_sent: "已送出", status_failed: "傳送失敗",
    status_local_failed: "無法連線到伺服器", retry: "重試", reply: "回覆",
    replying_to: "回覆：{text}", cancel_reply: "取消回覆", quoted: "引用的訊息",
    image: "圖片", image_open: "開啟原圖", image_loading: "圖片下載中…", media_unavailable: "檔案已無法取得",
    video: "影片", audio: "語音", file: "檔案", download: "下載", downloading: "下載中…",
    location: "位置", open_map: "在地圖上開啟", sticker: "貼圖",
    product: "商品", view_product: "查看商品",
    order_note: "訂單備註", order_status: "訂單狀態", order_n: "訂單 #{n}", open_order: "在 WooCommerce 開啟",
    sys_followed: "加入了好友", sys_unblocked: "解除封鎖", sys_blocked: "封鎖了官方帳號",
    sys_postback: "點選了按鈕：{text}", sys_account_link: "帳號綁定：{text}",
    blocked_banner: "這位顧客已封鎖官方帳號，訊息無法送達。",
    sent_by: "由 {name} 傳送",
    product_dialog_title: "傳送商品", product_search_label: "搜尋商品",
    product_search_placeholder: "商品名稱或 SKU", product_pick_title: "選擇商品",
    no_products: "找不到商品", in_stock: "有庫存", out_of_stock: "缺貨", on_backorder: "可預購",
    preview: "預覽", close: "關閉", select: "選擇",
    bind_title: "綁定會員", bind_search_label: "搜尋顧客",
    bind_search_placeholder: "電話、Email、姓名或訂單編號", search: "搜尋",
    no_candidates: "找不到符合的顧客", registered: "註冊會員", guest: "訪客",
    orders_n: "{n} 筆訂單", last_order: "最近訂單 {date}", bind: "綁定",
    bind_done: "已綁定 {name}", send_link: "傳送自助綁定連結",
    send_link_hint: "顧客會在 LINE 收到按鈕，登入商店後即完成綁定。",
    link_sent: "已傳送綁定連結", unbind: "解除綁定", unbind_confirm: "確定要解除與 {name} 的綁定嗎？",
    unbind_done: "已解除綁定", also_bound: "同一顧客也綁定了：{names}",
    bound_via: "{method}・{date}", method_staff: "客服綁定", method_self: "顧客自助綁定",
    member_since: "會員自 {date}", total_spent: "累積消費 {amount}",
    orders: "訂單", order_search_label: "搜尋訂單編號", order_search_placeholder: "搜尋訂單編號",
    no_orders: "尚無訂單", order_not_found: "找不到訂單 {n}",
    items: "商品", order_notes: "訂單備註", no_order_notes: "尚無備註",
    note_private: "私人備註", note_customer: "給顧客的備註", by_author: "{author}・{date}",
    add_order_note: "新增訂單備註", note_type: "備註類型",
    note_private_hint: "私人備註（僅店家可見）",
    note_customer_hint: "給顧客（WooCommerce 會寄 Email 通知顧客）",
    add_note: "新增備註", note_added: "已新增訂單備註", note_emailed: "已新增備註並寄送給顧客",
    customer_stale: "商店暫時無法連線，顯示的是先前的資料。",
    customer_unavailable: "商店（WooCommerce）暫時無法連線，聊天仍可正常使用。",
    tags: "標籤", add_tag: "新增標籤", add_tag_placeholder: "輸入標籤後按 Enter", remove_tag: "移除標籤 {tag}",
    staff_notes: "客服筆記", no_staff_notes: "尚無筆記", note_category: "分類", note_body: "內容",
    related_order: "相關訂單", related_product: "相關商品", none: "（無）", choose_product: "選擇商品",
    save: "儲存", edit: "編輯", delete: "刪除", delete_note_confirm: "確定要刪除這則筆記嗎？",
    "cat_重要": "重要", "cat_待處理": "待處理", "cat_已完成": "已完成", "cat_備忘": "備忘",
    order_status_pending: "待付款", order_status_processing: "處理中", "order_status_on-hold": "保留",
    order_status_completed: "已完成", order_status_cancelled: "已取消", order_status_refunded: "已退款",
    order_status_failed: "失敗", "order_status_checkout-draft": "草稿",
    not_available_yet: "這項功能尚未啟用（{status}）",
    notice_offline: "無法連線到 OrderChatz 伺服器，正在重新連線…",
    notice_stream: "即時更新中斷，正在重新連線…",
    notice_token: "登入憑證即將過期，正在更新…",
    notice_token_failed: "無法更新登入憑證。請重新整理 WordPress 頁面。",
    notice_no_token: "請從 WordPress 後台的 OrderChatz 頁面開啟。",
    notice_error: "發生錯誤：{message}",
    notice_forbidden: "你的 WordPress 帳號沒有使用 OrderChatz 的權限。",
    dismiss: "關閉通知", customer_placeholder: "選擇對話後會顯示顧客資料。",
    column_list: "好友列表", column_room: "聊天室", column_customer: "顧客資料",
    open_customer: "在 WordPress 開啟顧客", phone: "電話", total_label: "累積消費",
    sandbox: "沙盒模式（LINE 模擬器）", new_staff_note: "新增筆記",
    matched_phone: "電話相符", matched_email: "Email 相符", matched_name: "姓名相符", matched_order_number: "訂單編號相符",
  },
  en: {
    skip_to_list: "Skip to the friend list", skip_to_composer: "Skip to the message box",
    conversations: "Conversations", search_label: "Search friends",
    search_placeholder: "Search name, tag or phone",
    filters: "Filters", filter_all: "All", filter_unread: "Unread", filter_unbound: "Unbound",
    filter_blocked: "Blocked", filter_tag: "Filter by tag", filter_any_tag: "Any tag",
    back: "Back", customer: "Customer", choose_conversation: "Choose a conversation",
    choose_conversation_hint: "Pick a conversation on the left to reply to a customer.",
    composer_label: "Message", composer_placeholder: "Type a message. Enter sends, Shift+Enter adds a line",
    send_product: "Send product", send: "Send", counter: "{n} / {max}",
    too_long: "Longer than LINE's {max} character limit",
    no_conversations: "No matching conversations", loading: "Loading…", load_failed: "Could not load",
    try_again: "Try again", bound: "Bound", unbound: "Unbound", blocked: "Blocked",
    unread_n: "{n} unread", you: "You: ",
    today: "Today", yesterday: "Yesterday",
    history_start: "Start of the conversation", unsent: "Unsent", unsupported: "[Unsupported message]",
    status_queued: "Queued", status_sending: "Sending", status_sent: "Sent", status_failed: "Failed",
    status_local_failed: "Could not reach the server", retry: "Retry", reply: "Reply",
    replying_to: "Replying to: {text}", cancel_reply: "Cancel reply", quoted: "Quoted message",
    image: "Image", image_open: "Open full image", image_loading: "Downloading image…",
    media_unavailable: "The file is no longer available",
    video: "Video", audio: "Voice message", file: "File", download: "Download", downloading: "Downloading…",
    location: "Location", open_map: "Open in maps", sticker: "Sticker",
    product: "Product", view_product: "View product",
    order_note: "Order note", order_status: "Order status", order_n: "Order #{n}",
    open_order: "Open in WooCommerce",
    sys_followed: "Added the account as a friend", sys_unblocked: "Unblocked the account",
    sys_blocked: "Blocked the account", sys_postback: "Tapped a button: {text}",
    sys_account_link: "Account link: {text}",
    blocked_banner: "This customer has blocked the account; messages cannot be delivered.",
    sent_by: "Sent by {name}",
    product_dialog_title: "Send a product", product_search_label: "Search products",
    product_search_placeholder: "Product name or SKU", product_pick_title: "Choose a product",
    no_products: "No products found", in_stock: "In stock", out_of_stock: "Out of stock",
    on_backorder: "On backorder", preview: "Preview", close: "Close", select: "Select",
    bind_title: "Bind to a customer", bind_search_label: "Search customers",
    bind_search_placeholder: "Phone, email, name or order number", search: "Search",
    no_candidates: "No matching customers", registered: "Registered", guest: "Guest",
    orders_n: "{n} orders", last_order: "Last order {date}", bind: "Bind",
    bind_done: "Bound to {name}", send_link: "Send self-binding link",
    send_link_hint: "The customer gets a button on LINE and binds after logging in to the shop.",
    link_sent: "Binding link sent", unbind: "Unbind", unbind_confirm: "Unbind from {name}?",
    unbind_done: "Unbound", also_bound: "This customer is also bound to: {names}",
    bound_via: "{method} · {date}", method_staff: "Bound by staff", method_self: "Bound by the customer",
    member_since: "Customer since {date}", total_spent: "Total spent {amount}",
    orders: "Orders", order_search_label: "Search order number",
    order_search_placeholder: "Search order number",
    no_orders: "No orders yet", order_not_found: "Order {n} not found",
    items: "Items", order_notes: "Order notes", no_order_notes: "No notes yet",
    note_private: "Private note", note_customer: "Note to customer", by_author: "{author} · {date}",
    add_order_note: "Add an order note", note_type: "Note type",
    note_private_hint: "Private (only the shop sees it)",
    note_customer_hint: "To the customer (WooCommerce emails it to the customer)",
    add_note: "Add note", note_added: "Order note added", note_emailed: "Note added and emailed to the customer",
    customer_stale: "The shop is unreachable right now; showing earlier data.",
    customer_unavailable: "The shop (WooCommerce) is unreachable right now; chat still works.",
    tags: "Tags", add_tag: "Add tag", add_tag_placeholder: "Type a tag and press Enter",
    remove_tag: "Remove tag {tag}",
    staff_notes: "Staff notes", no_staff_notes: "No notes yet", note_category: "Category",
    note_body: "Note", related_order: "Related order", related_product: "Related product",
    none: "(none)", choose_product: "Choose product",
    save: "Save", edit: "Edit", delete: "Delete", delete_note_confirm: "Delete this note?",
    "cat_重要": "Important", "cat_待處理": "To do", "cat_已完成": "Done", "cat_備忘": "Memo",
    order_status_pending: "Pending payment", order_status_processing: "Processing",
    "order_status_on-hold": "On hold", order_status_completed: "Completed",
    order_status_cancelled: "Cancelled", order_status_refunded: "Refunded",
    order_status_failed: "Failed", "order_status_checkout-draft": "Draft",
    not_available_yet: "This feature is not available yet ({status})",
    notice_offline: "Cannot reach the OrderChatz server; reconnecting…",
    notice_stream: "Live updates interrupted; reconnecting…",
    notice_token: "Your sign-in is about to expire; renewing…",
    notice_token_failed: "Could not renew your sign-in. Reload the WordPress page.",
    notice_no_token: "Open this from the OrderChatz page in WordPress admin.",
    notice_error: "Something went wrong: {message}",
    notice_forbidden: "Your WordPress account may not use OrderChatz.",
    dismiss: "Dismiss", customer_placeholder: "Customer details appear when you open a conversation.",
    column_list: "Friend list", column_room: "Chat room", column_customer: "Customer",
    open_customer: "Open customer in WordPress", phone: "Phone", total_label: "Total spent",
    sandbox: "Sandbox (LINE emulator)", new_staff_note: "New note",
    matched_phone: "phone matches", matched_email: "email matches", matched_name: "name matches",
    matched_order_number: "order number matches",
  },
};

let current = CATALOG.zh_TW;
let currentLocale = "zh_TW";

/** "en", "en_US", "en-GB" → English; everything else stays zh-TW. */
export function setLocale(wpLocale) {
  const english = typeof wpLocale === "string" && wpLocale.toLowerCase().startsWith("en");
  currentLocale = english ? "en" : "zh_TW";
  current = CATALOG[currentLocale];
  document.documentElement.lang = english ? "en" : "zh-Hant-TW";
}

export function locale() {
  return currentLocale;
}

/** BCP 47 tag for Intl formatting. */
export function intlLocale() {
  return currentLocale === "en" ? "en-US" : "zh-TW";
}

export function t(key, vars) {
  let text = current[key] ?? CATALOG.zh_TW[key] ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

/** Translate the static markup: data-i18n (text), data-i18n-placeholder, data-i18n-aria. */
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
}
