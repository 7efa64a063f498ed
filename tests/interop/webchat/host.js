// Hosts Microsoft's Web Chat (its prebuilt bundle) on this page's own origin, against the Direct Line endpoint in
// the URL's fragment: #domain=<emulator>/v3/directline&token=<token>&user=<id>. As the Web Chat docs' "reconnect"
// sample does, it remembers the conversation id, token and watermark in sessionStorage and, after a reload,
// resumes the conversation from that watermark instead of starting a new one.
(function () {
  "use strict";
  var KEY = "webchat.resume";
  var params = new URLSearchParams(window.location.hash.slice(1));
  var saved = JSON.parse(window.sessionStorage.getItem(KEY) || "null");
  var options = { domain: params.get("domain"), webSocket: true, token: params.get("token") };
  if (saved) {
    options.token = saved.token;
    options.conversationId = saved.conversationId;
    options.watermark = saved.watermark;
  }
  var directLine = window.WebChat.createDirectLine(options);
  window.hostDirectLine = directLine;
  window.hostResumed = Boolean(saved);
  window.hostStatuses = [];
  function remember() {
    if (!directLine.conversationId) return;
    window.sessionStorage.setItem(
      KEY,
      JSON.stringify({ token: directLine.token, conversationId: directLine.conversationId, watermark: directLine.watermark })
    );
  }
  directLine.activity$.subscribe(remember); // the watermark moves before each activity set is emitted
  directLine.connectionStatus$.subscribe(function (status) {
    document.body.dataset.connectionStatus = String(status); // 2: Online, 3: ExpiredToken, 5: Ended
    window.hostStatuses.push(status);
    remember();
  });
  window.WebChat.renderWebChat(
    { directLine: directLine, userID: params.get("user"), username: "Web Chat user" },
    document.getElementById("webchat")
  );
})();
