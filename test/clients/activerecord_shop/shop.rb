# The dairy marketplace as a Rails application would write it with
# ActiveRecord 6.1 (ruby-activerecord, ruby-pg), for the N+1 TAP test
# (test/t/023_nplus1_activerecord.pl).  Models over the tables of
# test/workload/schema.sql (the test creates them); each scenario is code
# as found in controllers and jobs, and the SQL is ActiveRecord's own.
#
#   ruby shop.rb HOST PORT DBNAME SCENARIO
#
# Every statement carries query log tags naming the controller action, in
# the format of marginalia / Rails' query log tags (application:...,
# controller:...,action:...).
require 'active_record'

host, port, dbname, scenario = ARGV
ActiveRecord::Base.establish_connection(adapter: 'postgresql', host: host, port: port.to_i,
                                        database: dbname, username: 'postgres',
                                        variables: { application_name: 'rails_shop' })

# marginalia-style tags: the comment every statement of the action carries
module QueryLogTags
  mattr_accessor :action
  def execute(sql, name = nil)
    super(tag(sql), name)
  end

  def exec_query(sql, name = 'SQL', binds = [], prepare: false)
    super(tag(sql), name, binds, prepare: prepare)
  end

  def exec_update(sql, name = nil, binds = [])
    super(tag(sql), name, binds)
  end

  def exec_delete(sql, name = nil, binds = [])
    super(tag(sql), name, binds)
  end

  private

  def tag(sql)
    return sql if QueryLogTags.action.nil? || sql =~ /\A\s*(BEGIN|COMMIT|ROLLBACK|SET|SHOW)/i
    "#{sql} /*application:DairyShop,controller:orders,action:#{QueryLogTags.action}*/"
  end
end
ActiveRecord::ConnectionAdapters::PostgreSQLAdapter.prepend(QueryLogTags)

class Farm < ActiveRecord::Base
  has_many :products
end

class User < ActiveRecord::Base
end

class Product < ActiveRecord::Base
  belongs_to :farm
end

class Order < ActiveRecord::Base
  self.primary_key = 'id'
  belongs_to :user
  has_many :items, class_name: 'OrderItem'
  has_many :payments
end

class OrderItem < ActiveRecord::Base
  belongs_to :order
  belongs_to :product
end

class Payment < ActiveRecord::Base
  belongs_to :order
end

class Review < ActiveRecord::Base
  belongs_to :product
  belongs_to :user
end

class Notification < ActiveRecord::Base
  belongs_to :user
end

# a booted production process: the schema of every model already loaded
[Farm, User, Product, Order, OrderItem, Payment, Review, Notification].each do |model|
  model.columns_hash
  model.primary_key
end

SCENARIOS = {
  # one association per row: each product's farm
  'farm_page' => lambda do
    Product.where(category: 'yogurt').order(:id).limit(15).each { |p| p.farm.name }
  end,
  # two associations per row: each order's customer and its payments
  'order_list' => lambda do
    Order.where(status: 'shipped').order(:id).limit(15).each do |o|
      o.user.full_name
      o.payments.to_a
    end
  end,
  # a nested association: each order's items, then each item's product
  'order_details' => lambda do
    Order.where(status: 'paid').order(:id).limit(12).each do |o|
      o.items.each { |item| item.product.name }
    end
  end,
  # row-by-row saves (each in its own BEGIN ... COMMIT, as ActiveRecord does)
  'restock' => lambda do
    Product.where(farm_id: 3).order(:id).each { |p| p.update!(stock: p.stock + 1) }
  end,
  # the eager-loading forms
  'eager' => lambda do
    Order.includes(:user, :payments).where(status: 'shipped').order(:id).limit(15).each do |o|
      o.user.full_name
      o.payments.to_a
    end
    Order.preload(items: :product).where(status: 'paid').order(:id).limit(12).each do |o|
      o.items.each { |item| item.product.name }
    end
    Product.eager_load(:farm).where(category: 'yogurt').order(:id).limit(15).each { |p| p.farm.name }
  end,
  # a job-queue worker: one short transaction per job, back to back
  'job_worker' => lambda do
    loop do
      done = Notification.transaction do
        job = Notification.lock('FOR UPDATE SKIP LOCKED').where(read_at: nil).order(:id).first
        job&.update!(read_at: Time.now)
        job.nil?
      end
      break if done
    end
  end,
  # a bulk insert into a table with foreign keys
  'bulk_reviews' => lambda do
    rows = (1..40).flat_map do |u|
      (1..5).map { |p| { product_id: p, user_id: u, rating: 4, body: 'bulk', created_at: Time.now } }
    end
    Review.insert_all(rows)
  end,
  # a hot endpoint: 60 requests, each naming itself (a middleware setting
  # smart_dairy_perf.request_id, as the README says)
  'hot_endpoint' => lambda do
    60.times do |i|
      ActiveRecord::Base.connection.execute("SET smart_dairy_perf.request_id = 'req-#{i}'")
      Product.find(1 + i % 40).farm.region
    end
  end,
  # keyset pagination through the orders, in one transaction
  'export_orders' => lambda do
    Order.transaction do
      Order.count
      Order.find_each(batch_size: 5) { |o| o.total }
    end
  end,
}

QueryLogTags.action = scenario
SCENARIOS.fetch(scenario).call
